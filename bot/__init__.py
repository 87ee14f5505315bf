"""The application: settings, channel adapters, HTTP server, outbox sender, CLI, wiring."""
