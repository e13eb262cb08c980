# What a type checker sees of trustcopy/__init__.py, whose names are imported lazily (module
# ``__getattr__``): without this stub every public name was ``Any`` to a library user's mypy.
# ``X as X`` re-exports each under ``--strict``. A stub, not TYPE_CHECKING imports: those
# would count as imports of every layer for import-linter. Keep in step with _LAZY
# (tests/integration/test_library_api_s26.py compares the two).
from trustcopy.copy.options import CopyOptions as CopyOptions
from trustcopy.copy.pipeline import copy_image as copy_image
from trustcopy.digest import Digest as Digest
from trustcopy.errors import DigestMismatchError as DigestMismatchError
from trustcopy.errors import InvalidReferenceError as InvalidReferenceError
from trustcopy.errors import LimitExceededError as LimitExceededError
from trustcopy.errors import ManifestError as ManifestError
from trustcopy.errors import PolicyError as PolicyError
from trustcopy.errors import PolicyRejected as PolicyRejected
from trustcopy.errors import RegistryError as RegistryError
from trustcopy.errors import SignatureError as SignatureError
from trustcopy.errors import TransportError as TransportError
from trustcopy.errors import TrustcopyError as TrustcopyError
from trustcopy.manifest.digest import manifest_digest as manifest_digest
from trustcopy.policy import PolicyContext as PolicyContext
from trustcopy.policy import load_policy as load_policy
from trustcopy.reference import DockerReference as DockerReference
from trustcopy.reference import parse_normalized_named as parse_normalized_named
from trustcopy.transports.alltransports import parse_image_name as parse_image_name
from trustcopy.transports.base import SystemContext as SystemContext

__version__: str
__all__: list[str]

def __dir__() -> list[str]: ...
