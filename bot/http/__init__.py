"""HTTP: webhooks, integration API, web chat, health."""
