"""The demo book (``insurecrm demo``): a deterministic, realistic book with users for every role."""

from insurecrm.demo.book import book_is_empty, build_demo_book, print_logins

__all__ = ["book_is_empty", "build_demo_book", "print_logins"]
