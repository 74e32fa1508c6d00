#!/usr/bin/env python3
"""Tests of scripts/oci.py: the layout follows the OCI image layout and the Wasm compat variant,
digests and sizes are right, the output is reproducible, and verify() catches tampering.

Run: python3 scripts/test_oci.py   (prints "N passed, M failed" last; exits non-zero on failure)
"""

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oci  # noqa: E402

# A small valid module: the magic, version 1, and one empty custom section.
WASM = b"\0asm\x01\0\0\0" + b"\0\x05\x04test"
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "oci.py")


def run(tmp, *extra, env=None):
    wasm = os.path.join(tmp, "in.wasm")
    with open(wasm, "wb") as f:
        f.write(WASM)
    out, tar = os.path.join(tmp, "oci"), os.path.join(tmp, "oci.tar")
    e = dict(os.environ)
    e.pop("SOURCE_DATE_EPOCH", None)
    e.update(env or {})
    subprocess.run(
        [sys.executable, SCRIPT, "--wasm", wasm, "--out", out, "--tar", tar, "--tag", "9.9.9", *extra],
        check=True,
        capture_output=True,
        env=e,
    )
    with open(tar, "rb") as f:
        return out, f.read()


class Layout(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out, cls.tar = run(cls.tmp.name)
        cls.files = oci.read_files(cls.out)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def blob(self, digest):
        algo, hexdigest = digest.split(":")
        self.assertEqual(algo, "sha256")
        data = self.files["blobs/sha256/" + hexdigest]
        self.assertEqual(hashlib.sha256(data).hexdigest(), hexdigest)
        return data

    def test_layout_files(self):
        self.assertEqual(json.loads(self.files["oci-layout"]), {"imageLayoutVersion": "1.0.0"})
        self.assertEqual(len([p for p in self.files if p.startswith("blobs/sha256/")]), 3)
        self.assertEqual(len(self.files), 5)

    def test_index_manifest_config_layer(self):
        index = json.loads(self.files["index.json"])
        self.assertEqual(index["schemaVersion"], 2)
        self.assertEqual(index["mediaType"], "application/vnd.oci.image.index.v1+json")
        [mdesc] = index["manifests"]
        self.assertEqual(mdesc["mediaType"], "application/vnd.oci.image.manifest.v1+json")
        self.assertEqual(mdesc["annotations"], {"org.opencontainers.image.ref.name": "9.9.9"})
        manifest_bytes = self.blob(mdesc["digest"])
        self.assertEqual(mdesc["size"], len(manifest_bytes))
        manifest = json.loads(manifest_bytes)
        self.assertEqual(manifest["schemaVersion"], 2)
        self.assertEqual(manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json")
        self.assertEqual(manifest["annotations"]["module.wasm.image/variant"], "compat")
        self.assertEqual(manifest["annotations"]["org.opencontainers.image.version"], "9.9.9")
        self.assertEqual(manifest["annotations"]["org.opencontainers.image.created"], "1970-01-01T00:00:00Z")
        cdesc = manifest["config"]
        self.assertEqual(cdesc["mediaType"], "application/vnd.oci.image.config.v1+json")
        config_bytes = self.blob(cdesc["digest"])
        self.assertEqual(cdesc["size"], len(config_bytes))
        [ldesc] = manifest["layers"]
        self.assertEqual(ldesc["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip")
        layer = self.blob(ldesc["digest"])
        self.assertEqual(ldesc["size"], len(layer))
        layer_tar = gzip.decompress(layer)
        config = json.loads(config_bytes)
        self.assertEqual(config["rootfs"], {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()]})
        self.assertEqual((config["architecture"], config["os"]), ("wasm", "wasip1"))
        with tarfile.open(fileobj=io.BytesIO(layer_tar)) as t:
            [member] = t.getmembers()
            self.assertEqual(member.name, "plugin.wasm")
            self.assertTrue(member.isfile())
            self.assertEqual((member.mtime, member.uid, member.gid, member.mode), (0, 0, 0, 0o644))
            self.assertEqual(t.extractfile(member).read(), WASM)
        # gzip header: no file name, zero mtime
        self.assertEqual(layer[3] & 0x08, 0)
        self.assertEqual(layer[4:8], b"\0\0\0\0")

    def test_tarball_is_the_layout(self):
        self.assertEqual(oci.read_tar(self.tar), self.files)
        with tarfile.open(fileobj=io.BytesIO(self.tar)) as t:
            names = t.getnames()
            self.assertTrue(all(m.mtime == 0 and m.uid == 0 for m in t.getmembers()))
        self.assertIn("index.json", names)
        self.assertEqual(oci.verify(oci.read_tar(self.tar)), WASM)

    def test_reproducible(self):
        with tempfile.TemporaryDirectory() as other:
            out, tar = run(other)
            self.assertEqual(tar, self.tar)
            self.assertEqual(oci.read_files(out), self.files)

    def test_source_date_epoch(self):
        with tempfile.TemporaryDirectory() as other:
            out, tar = run(other, env={"SOURCE_DATE_EPOCH": "1764000000"})
            self.assertNotEqual(tar, self.tar)
            files = oci.read_files(out)
            oci.verify(files)
            index = json.loads(files["index.json"])
            manifest = json.loads(files["blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]])
            self.assertEqual(manifest["annotations"]["org.opencontainers.image.created"], "2025-11-24T16:00:00Z")

    def test_verify_command(self):
        r = subprocess.run([sys.executable, SCRIPT, "--verify", self.out], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_rerun_replaces_the_layout(self):
        with tempfile.TemporaryDirectory() as other:
            out, _ = run(other)
            with open(os.path.join(out, "blobs", "sha256", "0" * 64), "wb") as f:
                f.write(b"stale")
            out, _ = run(other)
            self.assertEqual(oci.read_files(out), self.files)

    def test_refuses_non_wasm(self):
        with tempfile.TemporaryDirectory() as tmp:
            bad = os.path.join(tmp, "x.wasm")
            with open(bad, "wb") as f:
                f.write(b"not wasm")
            r = subprocess.run([sys.executable, SCRIPT, "--wasm", bad, "--out", os.path.join(tmp, "o"), "--tar", os.path.join(tmp, "t")], capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
            self.assertFalse(os.path.exists(os.path.join(tmp, "o")))


class Tampering(unittest.TestCase):
    """verify() must refuse every way a layout can be wrong."""

    def setUp(self):
        self.files, _ = oci.build(WASM, "1.0.0", 0)
        self.index = json.loads(self.files["index.json"])
        mhex = self.index["manifests"][0]["digest"].split(":")[1]
        self.manifest = json.loads(self.files["blobs/sha256/" + mhex])

    def rewrite_manifest(self, change):
        files = dict(self.files)
        old = self.index["manifests"][0]["digest"].split(":")[1]
        del files["blobs/sha256/" + old]
        manifest = json.loads(json.dumps(self.manifest))
        change(manifest)
        data = oci.canonical_json(manifest)
        files["blobs/sha256/" + hashlib.sha256(data).hexdigest()] = data
        index = json.loads(json.dumps(self.index))
        index["manifests"][0].update(digest=oci.sha256_digest(data), size=len(data))
        files["index.json"] = oci.canonical_json(index)
        return files

    def refused(self, files, needle):
        with self.assertRaises(oci.LayoutError) as cm:
            oci.verify(files)
        self.assertIn(needle, str(cm.exception))

    def test_the_original_passes(self):
        self.assertEqual(oci.verify(self.files), WASM)

    def test_flipped_blob_byte(self):
        files = dict(self.files)
        ldigest = self.manifest["layers"][0]["digest"].split(":")[1]
        data = bytearray(files["blobs/sha256/" + ldigest])
        data[-1] ^= 1
        files["blobs/sha256/" + ldigest] = bytes(data)
        self.refused(files, "does not hash to its name")

    def test_wrong_size(self):
        self.refused(self.rewrite_manifest(lambda m: m["layers"][0].update(size=1)), "size 1")

    def test_missing_variant_annotation(self):
        self.refused(self.rewrite_manifest(lambda m: m["annotations"].pop("module.wasm.image/variant")), "compat")

    def test_wrong_layer_media_type(self):
        self.refused(
            self.rewrite_manifest(lambda m: m["layers"][0].update(mediaType="application/vnd.wasm.content.layer.v1+wasm")),
            "exactly one tar+gzip layer",
        )

    def test_two_layers(self):
        self.refused(self.rewrite_manifest(lambda m: m["layers"].append(m["layers"][0])), "exactly one")

    def test_wrong_config_media_type(self):
        self.refused(self.rewrite_manifest(lambda m: m["config"].update(mediaType="application/json")), "config media type")

    def test_missing_blob(self):
        files = dict(self.files)
        del files["blobs/sha256/" + self.manifest["config"]["digest"].split(":")[1]]
        self.refused(files, "missing")

    def test_extra_blob(self):
        files = dict(self.files)
        files["blobs/sha256/" + hashlib.sha256(b"x").hexdigest()] = b"x"
        self.refused(files, "unreferenced")

    def test_bad_layout_version(self):
        files = dict(self.files, **{"oci-layout": b'{"imageLayoutVersion":"2.0.0"}'})
        self.refused(files, "oci-layout")

    def test_wrong_file_in_layer(self):
        layer_tar = oci.tar_bytes([("module.wasm", WASM)], 0)
        files, _ = oci.build(WASM, "1.0.0", 0)
        # rebuild by hand with the wrong member name, keeping every digest consistent
        layer = oci.gzip_bytes(layer_tar)
        config = json.loads(files["blobs/sha256/" + self.manifest["config"]["digest"].split(":")[1]])
        config["rootfs"]["diff_ids"] = [oci.sha256_digest(layer_tar)]
        cbytes = oci.canonical_json(config)
        manifest = dict(self.manifest, config=oci.descriptor(oci.MT_CONFIG, cbytes), layers=[oci.descriptor(oci.MT_LAYER, layer)])
        mbytes = oci.canonical_json(manifest)
        index = dict(self.index, manifests=[oci.descriptor(oci.MT_MANIFEST, mbytes, {oci.REF_NAME: "1.0.0"})])
        bad = {"oci-layout": files["oci-layout"], "index.json": oci.canonical_json(index)}
        for blob in (layer, cbytes, mbytes):
            bad["blobs/sha256/" + hashlib.sha256(blob).hexdigest()] = blob
        self.refused(bad, "plugin.wasm")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=1).result
    failed = len(result.failures) + len(result.errors)
    print(f"{result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
