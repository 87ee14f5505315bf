"""Channel adapters: each turns its platform's input into InboundEvents and sends outbox rows."""
