"""Daily jobs of this domain (registered with ``insurecrm.jobs.daily_job``)."""
