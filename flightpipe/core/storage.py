"""The storage seam: every file the pipeline reads or writes outside Spark's readers goes here.

A plain path (``bronze``, ``/data/bronze``) is served by the local file system; a URI
(``hdfs://``, ``s3a://``, ``file://``, ``abfs://``...) by Hadoop's FileSystem API through the
active SparkSession's JVM, so the same code runs on a laptop and on a cluster. Paths stay
strings: :func:`join` builds them the same way for both kinds.
"""

from __future__ import annotations

import glob as _glob
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from flightpipe.core.errors import PipelineError

# Hadoop hands back ``file:/tmp/x`` (one slash) for ``file:///tmp/x``: both are URIs. Two letters
# at least, so a Windows drive (``C:/``) stays a local path.
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")


@dataclass(frozen=True)
class FileInfo:
    """One file found by :func:`list_files`."""

    path: str
    size: int
    mtime: float  # seconds since the epoch


def is_uri(path: str | os.PathLike[str]) -> bool:
    """True for ``scheme:/...`` paths, which go through Hadoop's FileSystem API."""
    return bool(_SCHEME.match(str(path)))


def join(base: str | os.PathLike[str], *parts: str) -> str:
    """``base/part/...`` for a local path or a URI."""
    text = str(base)
    if not is_uri(text):
        return str(Path(text, *parts))
    for part in parts:
        text = text.rstrip("/") + "/" + str(part).strip("/")
    return text


def name(path: str) -> str:
    """The last component of a path or URI."""
    return str(path).rstrip("/").rsplit("/", 1)[-1]


def parent(path: str) -> str:
    """The folder holding a path or URI."""
    if not is_uri(path):
        return str(Path(path).parent)
    return str(path).rstrip("/").rsplit("/", 1)[0]


def as_uri(path: str | os.PathLike[str]) -> str:
    """A URI for Spark and Hive (``LOCATION``): URIs as they are, local paths as ``file:``."""
    text = str(path)
    return text if is_uri(text) else Path(text).resolve().as_uri()


# --- Hadoop FileSystem (URIs) --------------------------------------------------------------


def _jvm():
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    if spark is None:
        raise PipelineError("a storage URI needs a running Spark session; start the stage's session first.")
    return spark.sparkContext._jvm, spark.sparkContext._jsc.hadoopConfiguration()


def _hadoop(path: str):
    jvm, conf = _jvm()
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    return jvm, hpath.getFileSystem(conf), hpath


def _hadoop_list(path: str, recursive: bool) -> tuple[str, list[FileInfo]]:
    """The qualified form of ``path`` (what the listed paths start with) and its files."""
    _, fs, hpath = _hadoop(path)
    base = fs.makeQualified(hpath).toString()
    if not fs.exists(hpath):
        return base, []
    found = []
    it = fs.listFiles(hpath, recursive)
    while it.hasNext():
        status = it.next()
        found.append(
            FileInfo(status.getPath().toString(), status.getLen(), status.getModificationTime() / 1000)
        )
    return base, found


def _hadoop_read(path: str) -> bytes:
    jvm, fs, hpath = _hadoop(path)
    stream = fs.open(hpath)
    try:
        return bytes(jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
    finally:
        stream.close()


def _hadoop_write(path: str, data: bytes) -> None:
    _, fs, hpath = _hadoop(path)
    stream = fs.create(hpath, True)
    try:
        stream.write(bytearray(data))
    finally:
        stream.close()


# --- the seam ------------------------------------------------------------------------------


def exists(path: str) -> bool:
    """True when a file or folder is there."""
    if is_uri(path):
        _, fs, hpath = _hadoop(path)
        return bool(fs.exists(hpath))
    return Path(path).exists()


def is_file(path: str) -> bool:
    """True for a file (not a folder)."""
    if is_uri(path):
        _, fs, hpath = _hadoop(path)
        return bool(fs.exists(hpath) and fs.getFileStatus(hpath).isFile())
    return Path(path).is_file()


def file_size(path: str) -> int:
    """Bytes in one file."""
    if is_uri(path):
        _, fs, hpath = _hadoop(path)
        return int(fs.getFileStatus(hpath).getLen())
    return Path(path).stat().st_size


def plain_path(path: str) -> str:
    """A ``file:`` URI as the local path it names (percent-decoded); other paths as they are."""
    if path.startswith("file:"):
        return unquote(urlparse(path).path)
    return path


def listed_path(uri: str) -> str:
    """A file as Spark lists it (``inputFiles()``: a percent-encoded URI) in the seam's form:
    a local path for a ``file:`` URI, the decoded URI otherwise (Hadoop's ``Path`` would take
    ``%20`` literally)."""
    return plain_path(uri) if uri.startswith("file:") else unquote(uri)


def uri_spellings(uri: str) -> list[str]:
    """The spellings Spark gives one local file's URI: ``inputFiles()`` lists ``file:///p``,
    ``_metadata.file_path`` holds ``file:/p``."""
    if uri.startswith("file:///"):
        return [uri, "file:/" + uri[len("file:///") :]]
    if uri.startswith("file:/") and not uri.startswith("file://"):
        return [uri, "file:///" + uri[len("file:/") :]]
    return [uri]


def glob(pattern: str) -> list[str]:
    """Paths matching a shell pattern (``*``, ``?``, ``[..]``), sorted; [] when none match."""
    if is_uri(pattern):
        _, fs, hpath = _hadoop(pattern)
        found = fs.globStatus(hpath)
        return sorted(s.getPath().toString() for s in found) if found is not None else []
    return sorted(_glob.glob(pattern))


def fetch(path: str, folder: str) -> str:
    """A local copy of the file at ``path`` (a URI) under ``folder``, copied again only when its
    size or modification time changed; plain paths are returned as they are."""
    if not is_uri(path):
        return path
    jvm, fs, hpath = _hadoop(path)
    status = fs.getFileStatus(hpath)
    stamp = f"{status.getLen()}-{status.getModificationTime()}"
    target = Path(folder) / f"{uuid.uuid5(uuid.NAMESPACE_URL, path).hex[:12]}-{stamp}" / name(path)
    if not target.is_file():
        part = target.with_name(f".{target.name}.part")
        part.parent.mkdir(parents=True, exist_ok=True)
        # The raw local file system writes no .crc file beside the copy.
        fs.copyToLocalFile(False, hpath, jvm.org.apache.hadoop.fs.Path(str(part)), True)
        os.replace(part, target)
    return str(target)


def is_dir(path: str) -> bool:
    """True for a folder."""
    if is_uri(path):
        _, fs, hpath = _hadoop(path)
        return bool(fs.exists(hpath) and fs.getFileStatus(hpath).isDirectory())
    return Path(path).is_dir()


def list_dirs(path: str) -> list[str]:
    """The sub-folders of ``path``, sorted by name; [] when it does not exist."""
    if is_uri(path):
        _, fs, hpath = _hadoop(path)
        if not fs.exists(hpath):
            return []
        return sorted(s.getPath().toString() for s in fs.listStatus(hpath) if s.isDirectory())
    folder = Path(path)
    return sorted(str(p) for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def is_empty(path: str) -> bool:
    """True for a folder holding nothing at all (hidden files count)."""
    if is_uri(path):
        _, fs, hpath = _hadoop(path)
        return len(fs.listStatus(hpath)) == 0
    return not any(Path(path).iterdir())


def list_files(path: str, suffix: str = "", recursive: bool = True) -> list[FileInfo]:
    """Files under ``path`` whose name ends with ``suffix``, sorted by path.

    Names starting with ``.`` or ``_`` (Spark's and Hadoop's own files, such as
    ``_SUCCESS`` or ``_spark_metadata``) are left out, as Spark's readers leave them out.
    """
    base = str(path)
    if is_uri(path):
        base, found = _hadoop_list(path, recursive)
    else:
        root = Path(path)
        if not root.is_dir():
            return []
        pattern = root.rglob("*") if recursive else root.glob("*")
        found = []
        for p in pattern:
            if p.is_file():
                st = p.stat()
                found.append(FileInfo(str(p), st.st_size, st.st_mtime))
    base = base.rstrip("/")

    def hidden(f: FileInfo) -> bool:
        rel = f.path[len(base) :] if f.path.startswith(base) else name(f.path)
        return any(part[:1] in "._" for part in rel.strip("/").split("/") if part)

    return sorted((f for f in found if f.path.endswith(suffix) and not hidden(f)), key=lambda f: f.path)


def total_size(path: str, suffix: str = "") -> int:
    """Bytes in the files under ``path`` (0 when it does not exist)."""
    return sum(f.size for f in list_files(path, suffix))


def makedirs(path: str) -> None:
    """Create the folder and its parents."""
    if is_uri(path):
        _, fs, hpath = _hadoop(path)
        fs.mkdirs(hpath)
    else:
        Path(path).mkdir(parents=True, exist_ok=True)


def read_bytes(path: str) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    if is_uri(path):
        return _hadoop_read(path) if exists(path) else None
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        return None


def read_text(path: str) -> str | None:
    """The file's text (UTF-8), or None when it does not exist."""
    data = read_bytes(path)
    return None if data is None else data.decode("utf-8")


def write_text(path: str, text: str) -> None:
    """Write the file atomically: a hidden temporary file beside it, then a rename."""
    data = text.encode("utf-8")
    tmp = join(parent(path), f".{name(path)}.{uuid.uuid4().hex[:8]}.tmp")
    if is_uri(path):
        _, fs, hpath = _hadoop(path)
        fs.mkdirs(hpath.getParent())
        _hadoop_write(tmp, data)
        _, _, htmp = _hadoop(tmp)
        # Hadoop's rename does not replace; delete first (object stores have no atomic rename anyway).
        fs.delete(hpath, False)
        if not fs.rename(htmp, hpath):
            raise OSError(f"could not rename {tmp} to {path}")
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(tmp).write_bytes(data)
    os.replace(tmp, path)


def read_json(path: str, default: Any = None) -> Any:
    """The parsed JSON file, or ``default`` when it does not exist or cannot be parsed."""
    text = read_text(path)
    if text is None:
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return default


def write_json(path: str, value: Any, indent: int | None = 1) -> None:
    """Write ``value`` as JSON, atomically (see :func:`write_text`)."""
    write_text(path, json.dumps(value, indent=indent, sort_keys=True, default=str))


def rename(src: str, dst: str) -> None:
    """Move a file or folder, replacing a file at ``dst``."""
    if is_uri(src):
        _, fs, hsrc = _hadoop(src)
        _, _, hdst = _hadoop(dst)
        fs.delete(hdst, False)
        fs.mkdirs(hdst.getParent())
        if not fs.rename(hsrc, hdst):
            raise OSError(f"could not rename {src} to {dst}")
        return
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)


def delete_files(paths: list[str]) -> None:
    """Remove many files of one file system (a table's parts), one Hadoop handle for all."""
    if not paths:
        return
    if not is_uri(paths[0]):
        for path in map(Path, paths):
            path.unlink(missing_ok=True)
            # Hadoop's local file system writes a hidden checksum beside each file it writes.
            path.with_name(f".{path.name}.crc").unlink(missing_ok=True)
        return
    jvm, fs, _ = _hadoop(paths[0])
    for path in paths:
        fs.delete(jvm.org.apache.hadoop.fs.Path(path), False)


def delete(path: str) -> None:
    """Remove a file or a whole folder; nothing when it is not there."""
    if is_uri(path):
        _, fs, hpath = _hadoop(path)
        fs.delete(hpath, True)
        return
    p = Path(path)
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    elif p.exists() or p.is_symlink():
        p.unlink()
