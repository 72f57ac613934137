"""Notifier: tells systems that do not read Kafka (a CRM, a chat channel) what happened, by signed webhooks."""

SERVICE = "notifier"
