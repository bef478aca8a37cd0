"""``--sample``: an ``.npy`` array, or one array of an ``.npz``, read only after its declared size is checked.

numpy allocates what a header declares before reading a byte of data: a 100-byte ``.npy``
declaring 2^40 elements, or an ``.npz`` member of a few kilobytes inflating to gigabytes,
would exhaust memory. So the ``.npy`` header (shape and dtype) is read first, and an
``.npz`` member's uncompressed size (the zip directory's) and its own header too; an array
whose values, as the float64 copy the summary takes, exceed the budget is refused with one
line. A zip member is read through zipfile's reader, which stops at the declared size
whatever the compressed stream holds, and never with pickles (``allow_pickle=False``;
object dtypes are refused from the header).
"""

from __future__ import annotations

import io
import zipfile
from typing import BinaryIO

import numpy as np

from nnlint.trace.budget import product, size_text

#: Bytes per value of the float64 copy the sample's summary is computed from.
_COPY = 8
#: numpy's own default limit on a header's length.
_HEADER_MAX = 10000
#: The arrays an ``.npz`` is searched for, in order, before its first array.
_PREFERRED = ("x", "X", "inputs")


class SampleRefused(Exception):
    """The sample cannot be used; the message is one line (without the file's name)."""


def read_array(stream: BinaryIO, limit: int) -> np.ndarray:
    """The sample's array from an open, seekable binary file (``.npy`` or ``.npz`` bytes)."""
    start = stream.read(6)
    stream.seek(0)
    if start.startswith(b"PK"):
        return _from_archive(stream, limit)
    if start != b"\x93NUMPY":
        raise SampleRefused("not an .npy or .npz file")
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    _check_header(stream, limit, available=size)
    stream.seek(0)
    return np.lib.format.read_array(stream, allow_pickle=False)


def _from_archive(stream: BinaryIO, limit: int) -> np.ndarray:
    try:
        archive = zipfile.ZipFile(stream)
    except zipfile.BadZipFile as exc:
        raise SampleRefused(f"not a valid .npz archive ({exc})") from None
    with archive:
        members = {info.filename[: -len(".npy")]: info for info in archive.infolist()
                   if info.filename.endswith(".npy") and not info.is_dir()}
        if not members:
            raise SampleRefused("the archive holds no array")
        key = next((k for k in _PREFERRED if k in members), next(iter(members)))
        info = members[key]
        if info.file_size > limit:
            raise SampleRefused(f"array '{key}' inflates to {size_text(info.file_size)}, over the "
                                f"{size_text(limit)} --trace-memory budget")
        try:
            with archive.open(info) as member:
                data = member.read(info.file_size + 1)  # zipfile stops at the declared size anyway
        except (zipfile.BadZipFile, NotImplementedError, EOFError, OSError) as exc:
            raise SampleRefused(f"array '{key}' cannot be read ({' '.join(str(exc).split())})") from None
    if data[:6] != b"\x93NUMPY":
        raise SampleRefused(f"array '{key}' is not in .npy format")
    buffer = io.BytesIO(data)
    _check_header(buffer, limit, available=len(data), name=f"array '{key}'")
    buffer.seek(0)
    return np.lib.format.read_array(buffer, allow_pickle=False)


def _check_header(stream: BinaryIO, limit: int, available: int, name: str = "") -> None:
    """An ``.npy`` header's shape and dtype, refused unless numeric, within the budget and
    backed by the ``available`` bytes of the file. ``name``: the archive member's."""
    where = f"{name}: " if name else ""
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream, max_header_size=_HEADER_MAX)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream, max_header_size=_HEADER_MAX)
        else:
            raise SampleRefused(f"{where}.npy format version {version[0]}.{version[1]} is not read")
    except ValueError as exc:
        raise SampleRefused(f"{where}invalid .npy header ({' '.join(str(exc).split())[:200]})") from None
    if dtype.hasobject or dtype.kind not in "biuf":
        raise SampleRefused(f"{where}expected a numeric array, got {dtype}")
    count = product(shape)
    if count * _COPY > limit:
        raise SampleRefused(f"{name or 'the array'} declares {count} values of shape {tuple(shape)} ({size_text(count * _COPY)} "
                            f"as float64), over the {size_text(limit)} --trace-memory budget")
    if count * dtype.itemsize > available - stream.tell():
        raise SampleRefused(f"{name or 'the array'} declares more values than its data holds")
