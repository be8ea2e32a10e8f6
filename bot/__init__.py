"""Transports only: Telegram, Discord, console, notifier; plus the CLI composition root."""
