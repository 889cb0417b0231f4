"""Where to look and how to log in: one module per platform (layout-next.md, "The auditor's Exchange Online parts").

``onprem`` holds Exchange Server's PowerShell remoting and EWS options; ``exo`` Exchange Online's tenant, app
credentials and base URLs (sovereign clouds); ``tokens`` is the only module that imports msal. The platform
follows from the policy's principal: ``principal.app`` means Exchange Online.
"""
