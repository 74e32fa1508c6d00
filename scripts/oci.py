#!/usr/bin/env python3
"""Package genai-tap's Wasm module as an OCI image that Istio's WasmPlugin can pull.

Writes the "compat" variant of the Wasm image specification (solo-io/wasm, spec-compat.md),
which Istio supports: exactly one layer of media type application/vnd.oci.image.layer.v1.tar+gzip
whose tar holds `plugin.wasm`, a standard image config (application/vnd.oci.image.config.v1+json),
and a manifest (application/vnd.oci.image.manifest.v1+json) annotated
`module.wasm.image/variant: compat`.

No Docker or registry client is needed: the output is an OCI image layout directory
(oci-layout, index.json, blobs/sha256/...) and the same layout as a tarball, which
`oras cp --from-oci-layout`, `skopeo copy oci:` / `oci-archive:` or `crane push` can push.
Both are reproducible: file times come from SOURCE_DATE_EPOCH (default 0), owners are 0, and
JSON is written with sorted keys, so the same module always gives the same digests.

Usage: scripts/oci.py [--wasm dist/genai_tap.wasm] [--out dist/oci] [--tar dist/genai-tap-oci.tar]
                      [--tag VERSION]        (default: the version in Cargo.toml)
       scripts/oci.py --verify dist/oci      (check a layout: digests, sizes, media types)
Only the Python standard library is used.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tarfile

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
VARIANT_ANNOTATION = "module.wasm.image/variant"
REF_NAME = "org.opencontainers.image.ref.name"
WASM_MAGIC = b"\0asm"


class LayoutError(Exception):
    """A layout that does not follow the OCI image layout or the Wasm compat variant."""


def canonical_json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def sha256_digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type, data, annotations=None):
    d = {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data)}
    if annotations:
        d["annotations"] = annotations
    return d


def epoch():
    value = os.environ.get("SOURCE_DATE_EPOCH", "0")
    if not value.isdigit():
        raise SystemExit(f"SOURCE_DATE_EPOCH must be a whole number of seconds, got {len(value)} characters")
    return int(value)


def rfc3339(seconds):
    import datetime

    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def tar_bytes(entries, mtime):
    """A deterministic ustar archive of (name, bytes or None for a directory) entries."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.mode = 0o644
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gzip_bytes(data):
    buf = io.BytesIO()
    # No file name and a zero time in the gzip header, so the bytes depend on the data only.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buf.getvalue()


def build(wasm, tag, mtime):
    """Returns {path in the layout: bytes} and the manifest descriptor."""
    if not wasm.startswith(WASM_MAGIC):
        raise SystemExit("input is not a WebAssembly module (no \\0asm magic)")
    layer_tar = tar_bytes([("plugin.wasm", wasm)], mtime)
    layer = gzip_bytes(layer_tar)
    created = rfc3339(mtime)
    config = canonical_json(
        {
            "created": created,
            "architecture": "wasm",
            "os": "wasip1",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(layer_tar)]},
            "history": [{"created": created, "created_by": "scripts/oci.py (genai-tap make oci)"}],
        }
    )
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "config": descriptor(MT_CONFIG, config),
            "layers": [descriptor(MT_LAYER, layer)],
            "annotations": {
                VARIANT_ANNOTATION: "compat",
                "org.opencontainers.image.title": "genai-tap",
                "org.opencontainers.image.version": tag,
                "org.opencontainers.image.created": created,
            },
        }
    )
    manifest_desc = descriptor(MT_MANIFEST, manifest, {REF_NAME: tag})
    index = canonical_json({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": [manifest_desc]})
    files = {
        "oci-layout": canonical_json({"imageLayoutVersion": "1.0.0"}),
        "index.json": index,
    }
    for blob in (layer, config, manifest):
        files["blobs/sha256/" + hashlib.sha256(blob).hexdigest()] = blob
    return files, manifest_desc


def layout_tar(files, mtime):
    dirs = ["blobs/", "blobs/sha256/"]
    entries = [(d, None) for d in dirs] + sorted(files.items())
    return tar_bytes(entries, mtime)


def write_layout(out, files):
    if os.path.exists(out):
        if os.listdir(out) and not os.path.exists(os.path.join(out, "oci-layout")):
            raise SystemExit(f"{out} exists and is not an OCI layout; not overwriting it")
        shutil.rmtree(out)
    for path, data in files.items():
        full = os.path.join(out, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)


def read_files(root):
    files = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            full = os.path.join(dirpath, n)
            with open(full, "rb") as f:
                files[os.path.relpath(full, root).replace(os.sep, "/")] = f.read()
    return files


def read_tar(data):
    files = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for m in tar.getmembers():
            if m.isfile():
                files[m.name] = tar.extractfile(m).read()
    return files


def verify(files):
    """Checks a layout given as {path: bytes}. Returns the plugin.wasm bytes."""

    def blob(desc, what):
        digest = desc.get("digest", "")
        m = re.fullmatch(r"sha256:([0-9a-f]{64})", digest)
        if not m:
            raise LayoutError(f"{what}: digest {digest!r} is not sha256:<64 hex>")
        data = files.get("blobs/sha256/" + m.group(1))
        if data is None:
            raise LayoutError(f"{what}: blob {digest} is missing")
        if hashlib.sha256(data).hexdigest() != m.group(1):
            raise LayoutError(f"{what}: blob {digest} does not hash to its name")
        if desc.get("size") != len(data):
            raise LayoutError(f"{what}: size {desc.get('size')} but the blob has {len(data)} bytes")
        return data

    def load(data, what):
        try:
            return json.loads(data)
        except ValueError as e:
            raise LayoutError(f"{what}: not JSON: {e}") from None

    layout = load(files.get("oci-layout", b"null"), "oci-layout")
    if layout != {"imageLayoutVersion": "1.0.0"}:
        raise LayoutError("oci-layout must be {\"imageLayoutVersion\": \"1.0.0\"}")
    index = load(files.get("index.json", b"null"), "index.json")
    if not isinstance(index, dict) or index.get("schemaVersion") != 2 or index.get("mediaType") != MT_INDEX:
        raise LayoutError("index.json: schemaVersion 2 and the image index media type expected")
    manifests = index.get("manifests") or []
    if len(manifests) != 1:
        raise LayoutError(f"index.json: one manifest expected, found {len(manifests)}")
    mdesc = manifests[0]
    if mdesc.get("mediaType") != MT_MANIFEST:
        raise LayoutError("index.json: the manifest descriptor's media type is not an image manifest")
    if not (mdesc.get("annotations") or {}).get(REF_NAME):
        raise LayoutError(f"index.json: the manifest has no {REF_NAME} annotation")
    manifest = load(blob(mdesc, "manifest"), "manifest")
    if manifest.get("schemaVersion") != 2 or manifest.get("mediaType") != MT_MANIFEST:
        raise LayoutError("manifest: schemaVersion 2 and the image manifest media type expected")
    if (manifest.get("annotations") or {}).get(VARIANT_ANNOTATION) != "compat":
        raise LayoutError(f"manifest: annotation {VARIANT_ANNOTATION}=compat is required for a tar+gzip layer")
    cdesc = manifest.get("config") or {}
    if cdesc.get("mediaType") != MT_CONFIG:
        raise LayoutError("manifest: the config media type must be the OCI image config")
    config = load(blob(cdesc, "config"), "config")
    layers = manifest.get("layers") or []
    if len(layers) != 1 or layers[0].get("mediaType") != MT_LAYER:
        raise LayoutError("manifest: the compat variant has exactly one tar+gzip layer")
    layer = blob(layers[0], "layer")
    try:
        layer_tar = gzip.decompress(layer)
    except OSError as e:
        raise LayoutError(f"layer: not gzip: {e}") from None
    if not config.get("architecture") or not config.get("os"):
        raise LayoutError("config: architecture and os are required")
    if (config.get("rootfs") or {}).get("diff_ids") != [sha256_digest(layer_tar)]:
        raise LayoutError("config: rootfs.diff_ids must be the digest of the uncompressed layer")
    with tarfile.open(fileobj=io.BytesIO(layer_tar), mode="r:") as tar:
        members = tar.getmembers()
        if [m.name for m in members] != ["plugin.wasm"] or not members[0].isfile():
            raise LayoutError(f"layer: exactly one file plugin.wasm expected, found {[m.name for m in members]}")
        wasm = tar.extractfile(members[0]).read()
    if not wasm.startswith(WASM_MAGIC):
        raise LayoutError("layer: plugin.wasm is not a WebAssembly module")
    used = {"oci-layout", "index.json"} | {
        "blobs/sha256/" + d["digest"].split(":", 1)[1] for d in (mdesc, cdesc, layers[0])
    }
    extra = sorted(set(files) - used)
    if extra:
        raise LayoutError(f"unreferenced files in the layout: {extra}")
    return wasm


def cargo_version(root):
    with open(os.path.join(root, "Cargo.toml"), encoding="utf-8") as f:
        m = re.search(r'^version\s*=\s*"([^"]+)"', f.read(), re.M)
    return m.group(1) if m else "latest"


def main(argv=None):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--wasm", default=os.path.join(root, "dist", "genai_tap.wasm"))
    p.add_argument("--out", default=os.path.join(root, "dist", "oci"))
    p.add_argument("--tar", default=os.path.join(root, "dist", "genai-tap-oci.tar"))
    p.add_argument("--tag", default=None)
    p.add_argument("--verify", metavar="LAYOUT", help="check an existing layout directory or tarball and exit")
    args = p.parse_args(argv)
    if args.verify:
        if os.path.isdir(args.verify):
            files = read_files(args.verify)
        else:
            with open(args.verify, "rb") as f:
                files = read_tar(f.read())
        try:
            verify(files)
        except LayoutError as e:
            print(f"{args.verify}: {e}", file=sys.stderr)
            return 1
        print(f"{args.verify}: ok")
        return 0
    with open(args.wasm, "rb") as f:
        wasm = f.read()
    tag = args.tag or cargo_version(root)
    mtime = epoch()
    files, manifest_desc = build(wasm, tag, mtime)
    verify(files)
    write_layout(args.out, files)
    os.makedirs(os.path.dirname(os.path.abspath(args.tar)), exist_ok=True)
    with open(args.tar, "wb") as f:
        f.write(layout_tar(files, mtime))
    print(f"{args.out}: {tag} {manifest_desc['digest']} ({len(wasm)} byte module)")
    print(f"{args.tar}: the same layout as a tarball")
    return 0


if __name__ == "__main__":
    sys.exit(main())
