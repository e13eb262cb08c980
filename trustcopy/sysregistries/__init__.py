"""registries.conf (version 2): mirrors, location rewriting, insecure and blocked registries.

Follows containers/image ``pkg/sysregistriesv2`` (man containers-registries.conf):

Files (:func:`registries_conf_paths`)
    ``--registries-conf FILE``, else ``$CONTAINERS_REGISTRIES_CONF``, else
    ``$REGISTRIES_CONFIG_PATH`` names the main file, which must then exist; with such an
    override the drop-in directories are ``/etc/containers/registries.conf.d`` and
    ``$HOME/.config/containers/registries.conf.d``. Without one, an existing
    ``$HOME/.config/containers/registries.conf`` is the main file and only the user drop-in
    directory is read; otherwise ``/etc/containers/registries.conf`` (missing = empty) and
    both drop-in directories. Drop-ins are the ``*.conf`` files of each directory in name
    order, system directory first; a later ``[[registry]]`` with the same prefix replaces
    an earlier one as a whole.

Entries
    ``[[registry]]`` has ``prefix`` (defaults to ``location``; ``*.example.com`` matches
    sub-domains), ``location`` (may be empty only for a wildcard prefix: no rewriting),
    ``insecure``, ``blocked``, ``mirror-by-digest-only`` and ``[[registry.mirror]]``
    tables with ``location``, ``insecure`` and ``pull-from-mirror`` (``all``,
    ``digest-only``, ``tag-only``). The entry whose prefix is the longest match for a
    repository name applies (ties: the first in prefix order). The version 1 format
    (``[registries.search|insecure|block]``) is converted as containers/image does.

Pulls and pushes (:meth:`RegistriesConf.pull_plan`, :meth:`RegistriesConf.push_target`)
    A pull tries the mirrors that apply (``pull-from-mirror``, ``mirror-by-digest-only``)
    in order, then the primary location, each with the reference rewritten to that
    location (``location + reference[len(prefix):]``) and that endpoint's own
    ``insecure``. Whether an endpoint is blocked is decided, as in containers/image, by
    the entry matching the *physical* (rewritten) name: a blocked registry with mirrors
    is still pulled through its mirrors. A push goes to the logical reference itself
    (no rewriting, no mirrors), blocked and insecure per the entry matching it.
    Policy and signature identities always use the logical reference; only the
    transport (and the lookaside of a mirror, see stores/where.py) uses physical ones.

Invariants
    - Every file is parsed strictly: a wrong type, a bad prefix or location, or a
      conflicting ``insecure``/``blocked`` setting is a :class:`ConfigError` naming the
      file and the entry. ``credential-helpers`` is kept (the last file setting it wins, an
      empty list too: back to the default) for the credential lookup. Keys containers/image knows but we do not use
      (``unqualified-search-registries``, ``short-name-mode``, ``aliases``,
      ``additional-layer-store-auth-helper``) are checked as
      containers/image checks them when loading (search registries are hosts, the mode is
      known, aliases map short names to registry/repository names), then ignored; unknown
      keys become :class:`ConfigWarning` values naming the file (logged
      unless the caller asks for them only), as containers/image ignores them.
    - TOML is read as containers/image's decoder (BurntSushi/toml) reads it; where Python's
      ``tomllib`` differs, ``load.parse_toml`` says which way we go (a byte order mark is
      skipped; numbers beyond Go's ranges and ambiguous redefinitions are refused).
    - Keys are matched as containers/image's TOML decoder matches them: exactly, else
      ignoring case (``Blocked = true`` blocks; warned); two spellings of one key with
      different values are a :class:`ConfigError`.
    - As the newest containers/image: a file is in the version 1 format when it sets any
      ``[registries.*] registries`` list, even an empty one; then no version 2 key may be
      set (an empty array or table counts), and a drop-in may not be such a file. The
      version 1 search list is checked as ``unqualified-search-registries`` (hosts only).
    - Nothing is cached in the module: a loaded :class:`RegistriesConf` is a value the
      caller keeps for the command.
"""

from trustcopy.sysregistries.load import (
    ENV_OVERRIDES,
    SYSTEM_REGISTRIES_CONF,
    SYSTEM_REGISTRIES_CONF_DIR,
    ConfPaths,
    load_registries_conf,
    registries_conf_paths,
)
from trustcopy.sysregistries.model import (
    PULL_FROM_MIRROR_VALUES,
    ConfigWarning,
    Endpoint,
    PullPlan,
    PullSource,
    PushTarget,
    RegistriesConf,
    Registry,
    ref_matching_prefix,
    report,
    rewrite_reference,
)

__all__ = [
    "ENV_OVERRIDES",
    "PULL_FROM_MIRROR_VALUES",
    "SYSTEM_REGISTRIES_CONF",
    "SYSTEM_REGISTRIES_CONF_DIR",
    "ConfPaths",
    "ConfigWarning",
    "Endpoint",
    "PullPlan",
    "PullSource",
    "PushTarget",
    "RegistriesConf",
    "Registry",
    "load_registries_conf",
    "ref_matching_prefix",
    "registries_conf_paths",
    "report",
    "rewrite_reference",
]
