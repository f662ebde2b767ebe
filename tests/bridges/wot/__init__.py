"""The Web of Things glue in Home Assistant: flows, setup, platforms, services, push."""
