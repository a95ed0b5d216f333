"""Operations pages for admins: daily job runs, the outbox, message templates."""

WEB_BLUEPRINTS: tuple = ()
