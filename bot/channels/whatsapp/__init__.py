"""The WhatsApp channel (Cloud API through pywa_async), being built: its layout of messages first."""
