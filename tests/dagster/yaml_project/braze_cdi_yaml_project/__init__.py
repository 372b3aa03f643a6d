"""A minimal ``dg`` project whose only definitions come from BrazeCDISyncComponent YAML."""
