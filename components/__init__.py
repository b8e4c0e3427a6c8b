"""site-storage: per-site media storage for Django sites, as a Pulumi component library."""
