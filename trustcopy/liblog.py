"""The library's loggers print nothing unless the application configures logging.

trustcopy logs to ``trustcopy.*`` loggers (a registry's ``Warning`` header, a retried
request, a deprecated registries.conf key). In a process with no logging configuration,
Python hands a warning to its last-resort handler, which writes it to stderr: a platform
team's service calling :func:`trustcopy.copy_image` got lines on its stderr it never asked
for. A ``NullHandler`` on the ``trustcopy`` logger (what the logging HOWTO advises a
library to add, and nothing else) stops that; an application that configures logging
still receives every record through propagation. The CLI prints its warnings with its
own handler (cli/common.py).

Imported, for that effect, by the modules a library user starts from (copy/pipeline.py,
policy/context.py); it imports nothing of trustcopy.
"""

from __future__ import annotations

import logging

#: The parent of every logger trustcopy writes to.
ROOT_LOGGER = "trustcopy"


def _install() -> None:
    logger = logging.getLogger(ROOT_LOGGER)
    if not any(isinstance(handler, logging.NullHandler) for handler in logger.handlers):
        logger.addHandler(logging.NullHandler())


_install()
