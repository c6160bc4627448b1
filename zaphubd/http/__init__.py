"""The aiohttp API: app factory, middlewares, schemas, one module per resource."""
