"""Docker's image config as containers/image decodes it (``manifest.Schema2Image``), for Go-exact reading.

Several readers must decode a Docker config blob exactly as containers/image does, because
Go's ``json.Unmarshal`` into these structs is what decides whether skopeo accepts a
config at all (a wrongly typed field anywhere fails it) and what it then sees:
``inspect`` (through :mod:`trustcopy.image.sourced`), and the docker-archive source
(:mod:`trustcopy.transports.dockertar`), which decodes every config to find its diff IDs.
The specs are :mod:`trustcopy.manifest._gojson` type descriptions, field by field.
"""

from __future__ import annotations

from typing import Any

#: docker's strslice.StrSlice (Cmd, Entrypoint, Shell): a JSON string or a list of strings
#: (:func:`strslice_problem` checks what "any" lets through).
_STRSLICE = "any"
_HEALTH = ("ptr", ("struct", {"Test": ("list", "string"), "StartPeriod": "int", "Interval": "int", "Timeout": "int",
                              "Retries": "int"}))
_PORTS: tuple[str, Any] = ("map", ("struct", {}))
#: manifest.Schema2Config, with Go's types.
SCHEMA2_CONFIG = ("struct", {
    "Hostname": "string", "Domainname": "string", "User": "string", "AttachStdin": "bool", "AttachStdout": "bool",
    "AttachStderr": "bool", "ExposedPorts": _PORTS, "Tty": "bool", "OpenStdin": "bool", "StdinOnce": "bool",
    "Env": ("list", "string"), "Cmd": _STRSLICE, "Healthcheck": _HEALTH, "ArgsEscaped": "bool", "Image": "string",
    "Volumes": _PORTS, "WorkingDir": "string", "Entrypoint": _STRSLICE, "NetworkDisabled": "bool",
    "MacAddress": "string", "OnBuild": ("list", "string"), "Labels": ("map", "string"), "StopSignal": "string",
    "StopTimeout": ("ptr", "int"), "Shell": _STRSLICE,
})
_SCHEMA2_V1_FIELDS: dict[str, Any] = {
    "id": "string", "parent": "string", "comment": "string", "created": "time", "container": "string",
    "container_config": SCHEMA2_CONFIG, "docker_version": "string", "author": "string",
    "config": ("ptr", SCHEMA2_CONFIG), "architecture": "string", "variant": "string", "os": "string", "Size": "int",
}
#: manifest.Schema2V1Image (schema1's v1Compatibility entries; embedded in Schema2Image).
SCHEMA2_V1_IMAGE = ("struct", _SCHEMA2_V1_FIELDS)
#: manifest.Schema2Image.
SCHEMA2_IMAGE = ("struct", {
    **_SCHEMA2_V1_FIELDS,
    "rootfs": ("ptr", ("struct", {"type": "string", "diff_ids": ("list", "string")})),
    "history": ("list", ("struct", {"created": "time", "author": "string", "created_by": "string",
                                    "comment": "string", "empty_layer": "bool"})),
    "os.version": "string", "os.features": ("list", "string"),
})
STRSLICE_FIELDS = ("Cmd", "Entrypoint", "Shell")


def strslice_problem(struct: Any) -> str | None:
    """The first StrSlice field of a decoded Schema2Config that StrSlice's UnmarshalJSON refuses, or None.

    Accepted: null, a string, or a list of strings and nulls (a null element is "").
    """
    if not isinstance(struct, dict):
        return None
    for name in STRSLICE_FIELDS:
        value = struct.get(name)
        if value is None or isinstance(value, str):
            continue
        if isinstance(value, list) and all(v is None or isinstance(v, str) for v in value):
            continue
        return name
    return None
