"""Time-driven work: weekly summaries, reminders, escalations and outbox delivery (from the approval and
summary issues on). Nothing is scheduled yet; APScheduler 3.11 runs here when it is."""
