"""Gateway service: authentication, tenants, keys and routing to the backends."""
