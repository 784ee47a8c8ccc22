"""WordNet 3.0 for nltk, installed from Debian's packages: no root, no apt, no nltk downloader.

No PyPI package ships usable WordNet data, so :func:`ensure_wordnet` fetches two pinned Debian
packages (``wordnet-base`` and ``wordnet-sense-index``, bookworm), checks their SHA-256,
unpacks them in pure Python (a ``.deb`` is an ``ar`` archive holding ``data.tar.xz``) and lays
the files out as nltk expects: ``<root>/corpora/wordnet/``, plus the ``lexnames`` file that
Debian leaves out and nltk's reader cannot do without. The folder appears in one atomic
rename, so a crash or a concurrent install never leaves a half-written corpus.

:func:`synonyms` reads that corpus (loaded once, lazily: about 6 s) for query perturbation.

Command line (what the Makefile's install step calls)::

    python -m shopaug.search._wordnet            # install if missing, print the root
    python -m shopaug.search._wordnet --deb a.deb --deb b.deb   # offline, from copied .debs

References:
    Miller, "WordNet: A Lexical Database for English" (CACM 1995). Licence: WordNet 3.0
    licence (Princeton), copied into the corpus folder as ``LICENSE``.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import http.client
import io
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from shopaug.exceptions import ShopaugError
from shopaug.lm._cache import default_dir

__all__ = [
    "WordNetDownloadError",
    "WordNetError",
    "download_debs",
    "ensure_wordnet",
    "install_wordnet",
    "synonyms",
]


class WordNetError(ShopaugError):
    """WordNet cannot be installed or loaded; the message says how to fix it."""


class WordNetDownloadError(WordNetError, OSError):
    """A Debian package could not be fetched, or its checksum does not match the pin."""


class _Deb(NamedTuple):
    url: str
    sha256: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


_POOL = "http://deb.debian.org/debian/pool/main/w/wordnet/"
# Debian bookworm, version 1:3.0-37 (the epoch is not part of pool file names). Plain http is
# what apt uses too: integrity comes from the pinned digests, not from the transport.
_DEBS = (
    _Deb(
        _POOL + "wordnet-base_3.0-37_all.deb",
        "61060d960f9ada8fa120872312eccd3ecebfbab8c4579e4f5a74e1cf67620752",
    ),
    _Deb(
        _POOL + "wordnet-sense-index_3.0-37_all.deb",
        "b22c7d3100470d90f812acc224718e4bd362d7ca427766fa3e11013c8c7895cf",
    ),
)
_TIMEOUT = 60.0  # seconds without progress on one socket operation
_SYSTEM_COPY = Path("/usr/share/wordnet")  # where `apt-get install wordnet-base` puts it
_LICENSE_MEMBER = "usr/share/doc/wordnet-base/copyright"

# Every file nltk's WordNetCorpusReader opens (its ``_FILES``): a folder missing one fails
# at load time or, worse, at the first lookup that needs it.
_FILES = (
    "cntlist.rev",
    "lexnames",
    "index.sense",
    "index.adj",
    "index.adv",
    "index.noun",
    "index.verb",
    "data.adj",
    "data.adv",
    "data.noun",
    "data.verb",
    "adj.exc",
    "adv.exc",
    "noun.exc",
    "verb.exc",
)

# WordNet 3.0's 45 lexicographer files in file-number order (lexnames(5WN)). The third
# column of ``lexnames`` is the syntactic category: 1 noun, 2 verb, 3 adjective, 4 adverb.
_LEXFILES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute "
    "noun.body noun.cognition noun.communication noun.event noun.feeling noun.food noun.group "
    "noun.location noun.motive noun.object noun.person noun.phenomenon noun.plant "
    "noun.possession noun.process noun.quantity noun.relation noun.shape noun.state "
    "noun.substance noun.time verb.body verb.change verb.cognition verb.communication "
    "verb.competition verb.consumption verb.contact verb.creation verb.emotion verb.motion "
    "verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
LEXNAMES = "".join(
    f"{i:02d}\t{name}\t{_CATEGORY[name.split('.')[0]]}\n" for i, name in enumerate(_LEXFILES)
)


def _manual_steps(dest: Path) -> str:
    urls = " and ".join(d.url for d in _DEBS)
    return (
        "To install by hand: `apt-get install wordnet-base wordnet-sense-index`, then rerun "
        "`python -m shopaug.search._wordnet`: it copies /usr/share/wordnet/* into "
        f"{dest / 'corpora' / 'wordnet'} (a folder nltk searches; elsewhere, put its nltk "
        "data root on NLTK_DATA) and writes the `lexnames` file Debian omits. Without apt: "
        f"fetch {urls} on another machine and pass both files with `--deb`."
    )


# --- locating an installed corpus -----------------------------------------------------------


def _missing(folder: Path) -> list[str]:
    return [name for name in _FILES if not (folder / name).is_file()]


def _locate(root: Path) -> str | None:
    """The nltk resource name under which ``root`` holds a loadable WordNet, if it does."""
    corpora = root / "corpora"
    if not _missing(corpora / "wordnet"):
        return "corpora/wordnet"
    if (corpora / "wordnet.zip").is_file():  # what `nltk.download("wordnet")` writes
        return "corpora/wordnet.zip/wordnet/"
    return None


def _nltk() -> Any:
    try:
        import nltk.data
    except ImportError as e:
        raise WordNetError(
            "nltk is not installed; it reads WordNet for query synonyms: pip install nltk==3.10.4"
        ) from e
    return nltk


def _search_roots(dest: Path | None) -> list[Path]:
    """``dest``, nltk's search path, then our cache fallback (not on nltk's path)."""
    nltk = _nltk()
    roots = [] if dest is None else [Path(dest)]
    roots += [Path(str(getattr(p, "path", p))) for p in nltk.data.path]
    roots.append(default_dir() / "nltk_data")
    return list(dict.fromkeys(r.expanduser() for r in roots))


def _find(dest: Path | None = None) -> Path | None:
    return next((root for root in _search_roots(dest) if _locate(root)), None)


def _register(root: Path) -> None:
    """Put ``root`` on nltk's search path: nltk refuses to read corpora from anywhere else."""
    nltk = _nltk()
    known = {Path(str(getattr(p, "path", p))).expanduser().resolve() for p in nltk.data.path}
    if root.resolve() not in known:
        nltk.data.path.append(str(root))


def _default_dest() -> Path:
    """The venv's ``share/nltk_data`` (on nltk's path already) if we may write there."""
    venv = Path(sys.prefix) / "share" / "nltk_data"
    probe = venv
    while not probe.exists():
        probe = probe.parent
    if os.access(probe, os.W_OK | os.X_OK):
        return venv
    return default_dir() / "nltk_data"


# --- fetching and unpacking -----------------------------------------------------------------


def _download(deb: _Deb, *, dest: Path, progress: bool) -> bytes:
    bar = None
    try:
        with urllib.request.urlopen(deb.url, timeout=_TIMEOUT) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(
                    total=total, unit="B", unit_scale=True, desc=deb.filename, file=sys.stderr
                )
            buf = bytearray()
            while chunk := resp.read(1 << 16):
                buf += chunk
                if bar is not None:
                    bar.update(len(chunk))
    except (OSError, http.client.HTTPException) as e:
        raise WordNetDownloadError(f"cannot download {deb.url}: {e}. {_manual_steps(dest)}") from e
    finally:
        if bar is not None:
            bar.close()
    _check_digest(bytes(buf), deb, where=deb.url)
    return bytes(buf)


def _check_digest(blob: bytes, deb: _Deb, *, where: str) -> None:
    got = hashlib.sha256(blob).hexdigest()
    if got != deb.sha256:
        raise WordNetDownloadError(
            f"{where}: sha256 {got}, expected {deb.sha256} ({deb.filename}); the file is "
            "damaged or not the pinned Debian package"
        )


def download_debs(folder: str | Path, *, progress: bool = False) -> list[Path]:
    """Download the two pinned Debian packages into ``folder`` (checksums verified).

    For offline machines: fetch them where there is network, copy them over and pass them
    to :func:`install_wordnet` (or ``python -m shopaug.search._wordnet --deb ...``).

    Args:
        folder: where to write the ``.deb`` files (created if missing).
        progress: show a download bar on stderr.

    Returns:
        The paths of the two files, ``wordnet-base`` first.

    Raises:
        WordNetDownloadError: a package could not be fetched or its checksum is wrong.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for deb in _DEBS:
        blob = _download(deb, dest=_default_dest(), progress=progress)
        path = folder / deb.filename
        fd, tmp = tempfile.mkstemp(prefix=f".{deb.filename}.", dir=folder)
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)
        paths.append(path)
    return paths


def _ar_members(blob: bytes, *, where: str) -> dict[str, bytes]:
    """Members of a System V / GNU ``ar`` archive (the outer format of a ``.deb``)."""
    if not blob.startswith(b"!<arch>\n"):
        raise WordNetError(f"{where}: not a Debian package (no ar archive header)")
    members: dict[str, bytes] = {}
    pos = 8
    while pos + 60 <= len(blob):
        # 60-byte header: name 16, mtime 12, uid 6, gid 6, mode 8, size 10, magic "`\n"
        header = blob[pos : pos + 60]
        if header[58:60] != b"`\n":
            raise WordNetError(f"{where}: corrupt ar member header at byte {pos}")
        name = header[:16].decode("ascii").rstrip().rstrip("/")  # GNU ar ends names with '/'
        size = int(header[48:58].decode("ascii"))
        start = pos + 60
        members[name] = blob[start : start + size]
        pos = start + size + size % 2  # members are aligned to even offsets
    return members


def _unpack_deb(blob: bytes, into: Path, *, where: str) -> None:
    """Copy the package's ``usr/share/wordnet/*`` files (and its licence) into ``into``."""
    members = _ar_members(blob, where=where)
    data = next((name for name in members if name.startswith("data.tar")), None)
    if data is None:
        raise WordNetError(f"{where}: no data.tar.* member (found {sorted(members)})")
    try:
        # "r:*" picks the codec: these packages use xz; gzip and bzip2 work as well
        tar = tarfile.open(fileobj=io.BytesIO(members[data]), mode="r:*")
    except tarfile.ReadError as e:
        raise WordNetError(f"{where}: cannot read {data} with this Python's tarfile: {e}") from e
    with tar:
        for member in tar:
            name = member.name.removeprefix("./")
            if not member.isfile():
                continue  # never follow links or create devices from an archive
            folder, _, base = name.rpartition("/")
            if folder == "usr/share/wordnet" and base not in ("", ".", ".."):
                target = into / base
            elif name == _LICENSE_MEMBER:
                target = into / "LICENSE"
            else:
                continue
            src = tar.extractfile(member)
            assert src is not None  # a regular file always has content
            with src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)


def _publish(tmp: Path, out: Path) -> None:
    """Rename the finished ``tmp`` to ``out``, keeping a complete ``out`` that appeared
    meanwhile (a concurrent install of the same pinned files) and replacing an incomplete one.
    """
    taken = (errno.EEXIST, errno.ENOTEMPTY)
    try:
        os.rename(tmp, out)  # atomic; refuses to replace a non-empty folder
        return
    except OSError as e:
        if e.errno not in taken:
            raise
    if not _missing(out):
        return
    # An incomplete folder (say, copied by hand without lexnames): move it aside, then retry.
    aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
    try:
        try:
            os.rename(out, aside / out.name)
        except FileNotFoundError:
            pass  # another install moved it first
        try:
            os.rename(tmp, out)
        except OSError as e:
            if e.errno not in taken or _missing(out):
                raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def _install(dest: Path, fill: Callable[[Path], None]) -> Path:
    """Build ``dest/corpora/wordnet`` with ``fill`` in a hidden sibling, then publish it."""
    corpora = Path(dest) / "corpora"
    corpora.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".wordnet.", dir=corpora))
    try:
        fill(tmp)
        (tmp / "lexnames").write_text(LEXNAMES, encoding="ascii")
        if missing := _missing(tmp):
            raise WordNetError(f"the WordNet files {missing} are missing from the source")
        for f in tmp.iterdir():
            f.chmod(0o644)
        tmp.chmod(0o755)  # mkdtemp makes it owner-only
        _publish(tmp, corpora / "wordnet")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Path(dest)


def install_wordnet(
    dest: str | Path, *, debs: Sequence[str | Path] | None = None, progress: bool = False
) -> Path:
    """Install WordNet 3.0 into ``dest/corpora/wordnet`` from the pinned Debian packages.

    Does not look for copies elsewhere (that is :func:`ensure_wordnet`). The folder is built
    beside its final place and renamed into it: readers see no corpus or a whole one. If a
    complete folder appears meanwhile (a concurrent install) it is kept; an incomplete one
    (say, copied by hand without ``lexnames``) is replaced. A killed process can leave a
    hidden ``corpora/.wordnet.*`` folder behind, which nltk ignores.

    Args:
        dest: an nltk data root (the folder that holds ``corpora/``).
        debs: local copies of the two packages (any order, any file names; matched by
            checksum); downloaded when None.
        progress: report downloads on stderr.

    Returns:
        ``dest``.

    Raises:
        WordNetDownloadError: a package could not be fetched, its checksum is wrong, or no
            file in ``debs`` is one of the pinned packages.
        WordNetError: a package does not unpack to a complete WordNet.
    """
    dest = Path(dest)
    if debs is None:
        blobs = [(_download(deb, dest=dest, progress=progress), deb.url) for deb in _DEBS]
    else:
        by_digest = {}
        for path in map(Path, debs):
            blob = path.read_bytes()
            by_digest[hashlib.sha256(blob).hexdigest()] = (blob, str(path))
        blobs = []
        for deb in _DEBS:
            if deb.sha256 not in by_digest:
                raise WordNetDownloadError(
                    f"none of {[str(p) for p in debs]} is {deb.filename} "
                    f"(sha256 {deb.sha256}); download it from {deb.url}"
                )
            blobs.append(by_digest[deb.sha256])

    def fill(tmp: Path) -> None:
        for blob, where in blobs:
            _unpack_deb(blob, tmp, where=where)

    return _install(dest, fill)


def _copy_system(src: Path) -> Callable[[Path], None]:
    def fill(tmp: Path) -> None:
        for f in src.iterdir():
            if f.is_file():
                shutil.copyfile(f, tmp / f.name)
        licence = Path("/") / _LICENSE_MEMBER
        if licence.is_file():
            shutil.copyfile(licence, tmp / "LICENSE")

    return fill


def ensure_wordnet(dest: str | Path | None = None, *, progress: bool = False) -> Path:
    """A folder from which nltk loads WordNet 3.0, installing it first if there is none.

    Looks in ``dest``, then on nltk's search path (``nltk.data.path``, which includes
    ``$NLTK_DATA``), then in ``$SHOPAUG_CACHE/nltk_data``. When nothing is found, installs
    into ``dest``: from ``/usr/share/wordnet`` when the Debian packages are installed
    system-wide, else from the pinned packages downloaded from deb.debian.org (about 8 MB,
    a few seconds). The root found or made is added to ``nltk.data.path`` if it is not on it.

    Args:
        dest: nltk data root to install into. Default: the running environment's
            ``<sys.prefix>/share/nltk_data`` (nltk searches it, so a venv needs no
            environment variable) if writable, else ``$SHOPAUG_CACHE/nltk_data``
            (``~/.cache/shopaug/nltk_data``). To force an install into a given folder, use
            :func:`install_wordnet`.
        progress: report what happens on stderr.

    Returns:
        The nltk data root holding ``corpora/wordnet`` (or nltk's ``corpora/wordnet.zip``).

    Raises:
        WordNetDownloadError: no copy exists and the download failed; the message says how
            to install by hand.

    Example:
        >>> root = ensure_wordnet()  # doctest: +SKIP
        >>> (root / "corpora" / "wordnet" / "lexnames").is_file()  # doctest: +SKIP
        True
    """
    found = _find(None if dest is None else Path(dest))
    if found is None:
        target = _default_dest() if dest is None else Path(dest)
        if progress:
            print(f"installing WordNet 3.0 into {target}", file=sys.stderr)
        if set(_missing(_SYSTEM_COPY)) <= {"lexnames"}:  # Debian packages installed by apt
            _install(target, _copy_system(_SYSTEM_COPY))
        else:
            install_wordnet(target, progress=progress)
        found = target
    _register(found)
    return found


# --- reading --------------------------------------------------------------------------------


@functools.cache
def _reader() -> Any:
    """nltk's WordNetCorpusReader on the copy :func:`ensure_wordnet` would find (once)."""
    root = _find()
    if root is None:
        raise WordNetError(
            "WordNet is not installed; run `python -m shopaug.search._wordnet` (or call "
            "shopaug.search._wordnet.ensure_wordnet()) once to install it"
        )
    _register(root)
    nltk = _nltk()
    from nltk.corpus.reader import CorpusReader
    from nltk.corpus.reader.wordnet import WordNetCorpusReader
    from nltk.corpus.util import LazyCorpusLoader

    pointer = nltk.data.find(_locate(root), paths=[str(root)])
    # the multilingual data is only read if asked for; passing its lazy loader, as
    # nltk.corpus.wordnet does, avoids a warning about it being unavailable
    omw = LazyCorpusLoader("omw-2.0", CorpusReader, r".*/wn-data-.*\.tab", encoding="utf8")
    return WordNetCorpusReader(pointer, omw)


_POS = "nvar"


def synonyms(word: str, *, pos: str = "na") -> list[str]:
    """WordNet synonyms of ``word``, most frequent senses first.

    Lemma names of the word's synsets, lowercased with ``_`` turned into spaces, without the
    word itself, its base forms (``"couches"`` does not give ``"couch"``) and duplicates.
    Senses are ordered by how often the word was tagged with them in WordNet's sense-tagged
    corpus (ties keep WordNet's order); named entities (``"black"`` -> ``"joseph black"``)
    are left out. Results are cached per word; the corpus loads on the first call
    (about 6 s).

    Args:
        word: one word (or a WordNet collocation such as ``"tv set"``); case is ignored.
        pos: parts of speech to draw from, as nltk letters: ``n`` noun, ``a`` adjective
            (with satellites), ``v`` verb, ``r`` adverb. Product queries are nouns and
            adjectives, and verb senses of their words mostly mislead ("couch" -> "frame").

    Returns:
        A new list; empty when WordNet does not know the word.

    Raises:
        WordNetError: WordNet is not installed (run ``python -m shopaug.search._wordnet``).
        ValueError: ``pos`` holds a letter other than ``n``, ``v``, ``a``, ``r``.

    Example:
        >>> synonyms("couch")[:2]  # doctest: +SKIP
        ['sofa', 'lounge']
    """
    if not pos or set(pos) - set(_POS):
        raise ValueError(f"pos must be letters among {_POS!r} (n, v, a, r), got {pos!r}")
    key = "_".join(word.lower().split())
    order = "".join(p for p in _POS if p in pos)  # one cache entry per set of letters
    return list(_synonyms(key, order)) if key else []


@functools.lru_cache(maxsize=1 << 16)
def _synonyms(word: str, pos: str) -> tuple[str, ...]:
    wn = _reader()
    # nltk's public morphy() returns one base form; the private _morphy lists all of them
    forms = {word}.union(*(wn._morphy(word, p) for p in pos))
    ranked = []
    for p in pos:
        for synset in wn.synsets(word, pos=p):
            if synset.instance_hypernyms():
                continue  # an instance is a named entity: a person, a place, a river
            lemmas = synset.lemmas()
            tagged = max((x.count() for x in lemmas if x.name().lower() in forms), default=0)
            ranked.append((tagged, lemmas))
    ranked.sort(key=lambda r: -r[0])  # stable: equal counts keep WordNet's sense order
    out: dict[str, None] = {}
    for _, lemmas in ranked:
        for lemma in lemmas:
            name = lemma.name().lower()
            if name not in forms:
                out.setdefault(name.replace("_", " "), None)
    return tuple(out)


def _main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m shopaug.search._wordnet",
        description="Install WordNet 3.0 for nltk (if missing) and print its nltk data root.",
    )
    parser.add_argument(
        "--dest",
        type=Path,
        help="nltk data root to install into unless it has WordNet already (default: the "
        "first copy nltk finds, else <sys.prefix>/share/nltk_data)",
    )
    parser.add_argument(
        "--deb",
        type=Path,
        action="append",
        help="a local copy of one of the two pinned .deb files (give both): no download",
    )
    args = parser.parse_args(argv)
    try:
        if args.dest is None and not args.deb:
            root = ensure_wordnet(progress=True)
        else:
            # an explicit destination or source means: install there, unless already done
            root = args.dest or _default_dest()
            if not _locate(root):
                install_wordnet(root, debs=args.deb, progress=True)
            if root.resolve() not in {r.resolve() for r in _search_roots(None)}:
                print(f"note: add {root} to NLTK_DATA for nltk to find it", file=sys.stderr)
    except WordNetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(root)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
