"""The demo book (``insurecrm demo``): a deterministic, realistic book with users for every role."""

from insurecrm.demo.book import build_demo_book, book_is_empty, print_logins

__all__ = ["book_is_empty", "build_demo_book", "print_logins"]
