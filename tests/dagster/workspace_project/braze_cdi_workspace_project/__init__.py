"""A minimal ``dg`` project whose only definitions come from BrazeCDIWorkspaceComponent YAML."""
