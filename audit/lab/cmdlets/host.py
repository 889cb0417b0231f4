"""The cmdlet runtime shared by every front end: lookup by visibility, parameter binding, ResultSize, pipes."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from audit.lab.authz import Authorizer, visible_cmdlets
from audit.lab.cmdlets.common import _CHANGED, _CREATED, _as_bool, _text
from audit.lab.cmdlets.objects import Value, mvp_string
from audit.lab.cmdlets.registry import _CMDLETS, _Cmdlet
from audit.lab.cmdlets.stream import (
    _INVALID_ARGUMENT,
    _NOT_SPECIFIED,
    _OBJECT_NOT_FOUND,
    _PARSER_ERROR,
    DEFAULT_RESULT_SIZE,
    NO_LANGUAGE_MESSAGE,
    NOT_RECOGNIZED,
    RESULT_SIZE_WARNING,
    CommandCall,
    Emission,
    ErrorSpec,
    Output,
    Warning,
    _Terminate,
    binding_error,
)
from audit.lab.tenant import Tenant


class ExchangeSession:
    """One user's view of the tenant: runs cmdlets and reports each call."""

    def __init__(
        self,
        tenant: Tenant,
        user: str,
        on_cmdlet: Callable[[str, str, dict[str, str]], None] | None = None,
        *,
        visible: frozenset[str] | None = None,
        commit: Callable[[Tenant], None] | None = None,
    ) -> None:
        self.tenant = tenant
        self.user = user
        self._on_cmdlet = on_cmdlet
        # An app (InvokeCommand) gets its cmdlets from its pointer's role groups; a user from its account.
        self._visible = visible if visible is not None else visible_cmdlets(tenant, user)
        self._commit = commit
        self._authz = Authorizer(tenant)
        self._errors: list[ErrorSpec] = []
        self._current: _Cmdlet | None = None

    @property
    def org(self) -> Any:
        """The tenant's organization record."""
        return self.tenant.organization

    # -- entry points -------------------------------------------------------------------------------------

    def run(self, statements: Sequence[Sequence[CommandCall]]) -> Iterator[Emission]:
        """Run every statement (a pipe of commands); a terminating error ends the whole pipeline."""
        try:
            for statement in statements:
                yield from self._statement(statement)
        except _Terminate as stop:
            yield stop.spec

    def _statement(self, commands: Sequence[CommandCall]) -> Iterator[Emission]:
        resolved: list[tuple[_Cmdlet, dict[str, Any]]] = []
        for call in commands:
            if call.is_script:
                raise _Terminate(
                    ErrorSpec(
                        message=NO_LANGUAGE_MESSAGE,
                        exception_types=(
                            "System.Management.Automation.ParseException",
                            "System.Management.Automation.RuntimeException",
                            "System.SystemException",
                        ),
                        category=_PARSER_ERROR,
                        reason="ParseException",
                        fully_qualified_error_id="ScriptsNotAllowed",
                        terminating=True,
                    )
                )
            known = _CMDLETS.get(call.name.strip().lower())
            if self._on_cmdlet is not None:
                # Every attempted cmdlet counts, including ones the session does not expose.
                reported = {(k or "").lstrip("-"): _text(v) for k, v in call.parameters}
                self._on_cmdlet(self.user, known.name if known else call.name.strip(), reported)
            cmdlet = self._lookup(call.name)
            params = self._bind(cmdlet, call.parameters, piped=bool(resolved))
            resolved.append((cmdlet, params))

        first, first_params = resolved[0]
        stream: Iterable[Emission] = self._invoke(first, first_params)
        for cmdlet, params in resolved[1:]:
            stream = self._piped(cmdlet, params, stream)
        yield from stream

    def _piped(self, cmdlet: _Cmdlet, params: dict[str, Any], upstream: Iterable[Emission]) -> Iterator[Emission]:
        """Bind each upstream object to -Identity, as Exchange's IdParameters take pipeline input."""
        for item in upstream:
            if isinstance(item, Output):
                identity = item.obj.get("Identity")
                yield from self._invoke(cmdlet, {**params, "Identity": identity if identity else item.obj.to_string})
            else:
                yield item

    def _lookup(self, name: str) -> _Cmdlet:
        cmdlet = _CMDLETS.get(name.strip().lower())
        if cmdlet is None or cmdlet.name not in self._visible:
            raise _Terminate(
                ErrorSpec(
                    message=NOT_RECOGNIZED.format(name),
                    exception_types=(
                        "System.Management.Automation.CommandNotFoundException",
                        "System.Management.Automation.RuntimeException",
                        "System.SystemException",
                    ),
                    category=_OBJECT_NOT_FOUND,
                    reason="CommandNotFoundException",
                    fully_qualified_error_id="CommandNotFoundException",
                    terminating=True,
                    target_name=name,
                    target_type="String",
                    target_object=name,
                )
            )
        return cmdlet

    def _bind(self, cmdlet: _Cmdlet, raw: Sequence[tuple[str | None, Any]], *, piped: bool = False) -> dict[str, Any]:
        """Bind named (unique prefixes allowed, case-insensitive) and positional (-Identity) parameters.

        Then resolve the parameter set as PowerShell's binder does (``piped``: -Identity comes from the pipeline).
        """
        bound: dict[str, Any] = {}
        positional: list[Any] = []
        known = {p.lower(): p for p in cmdlet.parameters}
        for name, value in raw:
            if name is None:
                positional.append(value)
                continue
            key = name.lstrip("-").lower()
            match = known.get(key)
            if match is None:
                candidates = [p for k, p in known.items() if k.startswith(key)]
                if len(candidates) == 1:
                    match = candidates[0]
                else:
                    self._parameter_error(cmdlet, name, ambiguous=len(candidates) > 1)
            assert match is not None
            bound[match] = value
        if positional:
            if "Identity" not in cmdlet.parameters or "Identity" in bound or len(positional) > 1:
                raise _Terminate(
                    ErrorSpec(
                        message=(
                            f"A positional parameter cannot be found that accepts argument '{_text(positional[-1])}'."
                        ),
                        exception_types=(
                            "System.Management.Automation.ParameterBindingException",
                            "System.Management.Automation.RuntimeException",
                            "System.SystemException",
                        ),
                        category=_INVALID_ARGUMENT,
                        reason="ParameterBindingException",
                        fully_qualified_error_id=f"PositionalParameterNotFound,{cmdlet.task}",
                        terminating=True,
                        activity=cmdlet.name,
                    )
                )
            bound["Identity"] = positional[0]
        for switch in cmdlet.switches:
            if switch in bound:
                try:
                    bound[switch] = _as_bool(bound[switch])
                except ValueError:
                    self._parameter_error(cmdlet, switch, bad_value=bound[switch])
        self._resolve_parameter_set(cmdlet, set(bound) | ({"Identity"} if piped else set()))
        return bound

    def _resolve_parameter_set(self, cmdlet: _Cmdlet, bound: set[str]) -> str | None:
        """The parameter set the bound parameters select, or a ParameterBindingException as PowerShell raises it.

        PowerShell keeps the sets that hold every bound parameter; of several, the one whose mandatory parameters
        are all bound, else the cmdlet's default set; none left, or several and no default among them, is
        "Parameter set cannot be resolved using the specified named parameters." (AmbiguousParameterSet); the
        chosen set's unbound mandatory parameters are "missing mandatory parameters" (MissingMandatoryParameter:
        a remote session has no host to prompt). Sources: PowerShell's ParameterBinderController and
        ParameterBinderStrings (Windows PowerShell 5.1 wording, the version Exchange Server runs on); each
        cmdlet's sets in audit.lab.cmdlets.registry.
        """
        if not cmdlet.sets:
            return None
        in_some_set = frozenset().union(*(ps.parameters for ps in cmdlet.sets))
        specific = bound & in_some_set
        candidates = [ps for ps in cmdlet.sets if specific <= ps.parameters]
        complete = [ps for ps in candidates if ps.mandatory <= bound]
        chosen = None
        if len(candidates) == 1:
            chosen = candidates[0]
        elif len(complete) == 1:
            chosen = complete[0]
        else:
            chosen = next((ps for ps in candidates if ps.name == cmdlet.default_set), None)
        if chosen is None:
            message = "Parameter set cannot be resolved using the specified named parameters."
            self._binding_error(cmdlet, message, "AmbiguousParameterSet")
            return None
        missing = [name for name in sorted(chosen.mandatory) if name not in bound]
        if missing:
            self._binding_error(
                cmdlet,
                f"Cannot process command because of one or more missing mandatory parameters: {' '.join(missing)}.",
                "MissingMandatoryParameter",
            )
        return chosen.name

    def _binding_error(self, cmdlet: _Cmdlet, message: str, error_id: str) -> None:
        # The binder runs on the server against the compiled cmdlet, so the id names its .NET class (as in
        # "AmbiguousParameterSet,Microsoft.PowerShell.Commands.InvokeWebRequestCommand"), not the cmdlet name that
        # a client-side proxy function (Import-PSSession) would show.
        raise _Terminate(binding_error(message, f"{error_id},{cmdlet.task}", cmdlet.name))

    def _parameter_error(self, cmdlet: _Cmdlet, name: str, *, ambiguous: bool = False, bad_value: Any = None) -> None:
        if bad_value is not None:
            message = (
                f"Cannot process argument transformation on parameter '{name}'. Cannot convert value "
                f'"{bad_value}" to type "System.Boolean".'
            )
            fqid = f"ParameterArgumentTransformationError,{cmdlet.task}"
        elif ambiguous:
            message = f"Parameter cannot be processed because the parameter name '{name}' is ambiguous."
            fqid = f"AmbiguousParameter,{cmdlet.task}"
        else:
            message = f"A parameter cannot be found that matches parameter name '{name}'."
            fqid = f"NamedParameterNotFound,{cmdlet.task}"
        raise _Terminate(binding_error(message, fqid, cmdlet.name))

    def _invoke(self, cmdlet: _Cmdlet, params: dict[str, Any]) -> Iterator[Emission]:
        self._current = cmdlet
        limit = self._result_size(cmdlet, params)
        self._errors = []
        for count, obj in enumerate(cmdlet.run(self, params)):
            yield from self._flush_errors()
            if limit is not None and count >= limit:
                if "ResultSize" not in params:
                    yield Warning(RESULT_SIZE_WARNING)
                break
            yield Output(obj)
        yield from self._flush_errors()

    def _flush_errors(self) -> Iterator[Emission]:
        while self._errors:
            yield self._errors.pop(0)

    def _result_size(self, cmdlet: _Cmdlet, params: dict[str, Any]) -> int | None:
        if "ResultSize" not in cmdlet.parameters:
            return None
        raw = params.get("ResultSize")
        if raw is None:
            return DEFAULT_RESULT_SIZE
        text = _text(raw).strip()
        if text.lower() == "unlimited":
            return None
        try:
            value = int(text)
        except ValueError:
            value = -1
        if value <= 0:
            raise _Terminate(
                ErrorSpec(
                    message=(
                        f"Cannot process argument transformation on parameter 'ResultSize'. Cannot convert value "
                        f'"{text}" to type "Microsoft.Exchange.Data.Unlimited`1[System.UInt32]". Error: "The value '
                        f'must be a positive integer or Unlimited."'
                    ),
                    exception_types=(
                        "System.Management.Automation.ParameterBindingException",
                        "System.Management.Automation.RuntimeException",
                        "System.SystemException",
                    ),
                    category=_INVALID_ARGUMENT,
                    reason="ParameterBindingArgumentTransformationException",
                    fully_qualified_error_id=f"ParameterArgumentTransformationError,{cmdlet.task}",
                    terminating=True,
                    activity=cmdlet.name,
                )
            )
        return value

    # -- helpers for the cmdlet bodies -------------------------------------------------------------------

    def not_found(self, identity: Any, id_type: str | None = None) -> None:
        """Queue Exchange's non-terminating ManagementObjectNotFoundException for ``identity``."""
        cmdlet = self._current
        assert cmdlet is not None
        text = _text(identity)
        task = cmdlet.task
        request = uuid.uuid4()
        stamp = datetime.datetime.now(datetime.UTC).strftime("%m/%d/%Y %I:%M:%S %p")
        self._errors.append(
            ErrorSpec(
                message=(
                    f"The operation couldn't be performed because object '{text}' couldn't be found on "
                    f"'{self.org.domain_controller}'."
                ),
                exception_types=("Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",),
                category=_NOT_SPECIFIED,
                reason="ManagementObjectNotFoundException",
                fully_qualified_error_id=(
                    f"[Server={self.org.server_name},RequestId={request},TimeStamp={stamp}] "
                    f"[FailureCategory=Cmdlet-ManagementObjectNotFoundException] 9A1B2C3D,{task}"
                ),
                terminating=False,
                activity=cmdlet.name,
                target_name=text,
                target_type=id_type or cmdlet.identity_type,
                target_object=text,
            )
        )

    def canonical(self, dn: str) -> str:
        """ADObjectId ToString of a directory object: its canonical name (exchange-outputs.md section 4)."""
        obj = self.tenant.by_dn(dn)
        if obj is not None:
            return obj.identity
        pointer = self.tenant.exo.pointer(dn) if self.tenant.exo is not None else None
        if pointer is not None:
            return pointer.object_id  # a service principal pointer's Identity (UNVERIFIED: ObjectId or name)
        return dn

    def common_tail(
        self, dn: str, name: str, guid: str, category: str, classes: Sequence[str]
    ) -> list[tuple[str, Value]]:
        """The ADPresentationObject tail (seen on Mailbox and ExchangeServer)."""
        identity = self.canonical(dn)
        return [
            ("Identity", identity),
            ("IsValid", True),
            ("ExchangeVersion", "0.20 (15.0.0.0)"),
            ("Name", name),
            ("DistinguishedName", dn),
            ("Guid", uuid.UUID(guid)),
            ("ObjectCategory", f"{self.org.domain}/Configuration/Schema/{category}"),
            ("ObjectClass", mvp_string(classes)),
            ("WhenChanged", _CHANGED),
            ("WhenCreated", _CREATED),
            ("WhenChangedUTC", _CHANGED),
            ("WhenCreatedUTC", _CREATED),
            ("OrganizationId", ""),
            ("Id", identity),
            ("OriginatingServer", self.org.domain_controller),
            ("ObjectState", "Unchanged"),
        ]

    def config_tail(
        self, dn: str, name: str, guid: str, category: str, classes: Sequence[str], version: str = "0.20 (15.0.0.0)"
    ) -> list[tuple[str, Value]]:
        """The ADConfigurationObject tail (seen on AcceptedDomain, matches the ThrottlingPolicy fl)."""
        return [
            ("AdminDisplayName", ""),
            ("ExchangeVersion", version),
            ("Name", name),
            ("DistinguishedName", dn),
            ("Identity", name),
            ("Guid", uuid.UUID(guid)),
            ("ObjectCategory", f"{self.org.domain}/Configuration/Schema/{category}"),
            ("ObjectClass", mvp_string(classes)),
            ("WhenChanged", _CHANGED),
            ("WhenCreated", _CREATED),
            ("WhenChangedUTC", _CHANGED),
            ("WhenCreatedUTC", _CREATED),
            ("OrganizationId", ""),
            ("Id", name),
            ("OriginatingServer", self.org.domain_controller),
            ("IsValid", True),
            ("ObjectState", "Unchanged"),
        ]

    def commit(self, tenant: Tenant) -> None:
        """Make ``tenant`` the lab's tenant (a write cmdlet's result: a new value, never an edit in place)."""
        if self._commit is None:
            raise _Terminate(
                ErrorSpec(
                    message="The lab does not accept changes on this endpoint.",
                    exception_types=("System.InvalidOperationException",),
                    category=_NOT_SPECIFIED,
                    reason="InvalidOperationException",
                    fully_qualified_error_id="LabReadOnly",
                    terminating=True,
                )
            )
        self._commit(tenant)
        self.tenant = tenant
        self._authz = Authorizer(tenant)

    def fail(self, message: str, reason: str = "InvalidOperationException") -> None:
        """End the pipeline with a terminating error (bad input to a write cmdlet)."""
        cmdlet = self._current
        raise _Terminate(
            ErrorSpec(
                message=message,
                exception_types=(f"Microsoft.Exchange.Configuration.Tasks.{reason}",),
                category=_INVALID_ARGUMENT,
                reason=reason,
                fully_qualified_error_id=f"{reason},{cmdlet.task if cmdlet else ''}",
                terminating=True,
                activity=cmdlet.name if cmdlet else None,
            )
        )

    def groups_of(self, dn: str) -> set[str]:
        """Every group DN reaching ``dn`` (nested included), lower-case."""
        return self._authz.groups_of(dn)


def run_pipeline(
    tenant: Tenant,
    user: str,
    statements: Sequence[Sequence[CommandCall]],
    on_cmdlet: Callable[[str, str, dict[str, str]], None] | None = None,
) -> Iterator[Emission]:
    """Run one CreatePipeline's statements for ``user`` against ``tenant``."""
    return ExchangeSession(tenant, user, on_cmdlet).run(statements)


class CmdletHost:
    """The cmdlet runtime the front ends share: the current tenant, who sees which cmdlet, writes, the call log.

    /PowerShell runs statements for an account (visibility from the account's roles); InvokeCommand invokes one
    call for an app (visibility from its service principal pointer's role groups). Both run the same cmdlets.
    """

    def __init__(
        self,
        tenant: Callable[[], Tenant],
        *,
        commit: Callable[[Tenant], None] | None = None,
        on_cmdlet: Callable[[str, str, dict[str, str]], None] | None = None,
    ) -> None:
        self._tenant = tenant
        self._commit = commit
        self._on_cmdlet = on_cmdlet

    def run(self, user: str, statements: Sequence[Sequence[CommandCall]]) -> Iterator[Emission]:
        """Run a PSRP pipeline's statements for an account."""
        return ExchangeSession(self._tenant(), user, self._on_cmdlet, commit=self._commit).run(statements)

    def invoke(self, caller: str, visible: frozenset[str], call: CommandCall) -> Iterator[Emission]:
        """Run one REST call (InvokeCommand) for an app that sees ``visible``."""
        session = ExchangeSession(self._tenant(), caller, self._on_cmdlet, visible=visible, commit=self._commit)
        return session.run([[call]])
