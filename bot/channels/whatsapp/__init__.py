"""The WhatsApp channel (Cloud API through pywa_async): layout of messages, the client rebased onto
WHATSAPP_API_URL, the courier (outbound) and the project's message templates."""
