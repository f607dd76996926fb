"""Hub sharing: upload a packed model with its card, download it by name, decode the same.

The tests run the real ``huggingface_hub`` client code (``HfApi.create_repo``,
``upload_folder`` with its preupload and NDJSON commit calls, ``snapshot_download`` with
``repo_info``, the tree listing and ``HEAD``/``GET`` of each file into the cache) against
:class:`LocalHub`, a small HTTP server on 127.0.0.1 speaking those few endpoints, reached
through the ``endpoint`` argument that the real calls take too. A stand-in at the HTTP
boundary was chosen over monkeypatching ``HfApi``/``snapshot_download`` because patching
them would replace exactly the code under test (payload building, cache layout, ETag and
commit handling); the stand-in keeps files in memory and answers "regular" (not LFS/Xet)
for every file, the one simplification, which only changes how bytes travel.
"""

import base64
import hashlib
import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

import pytest
import torch
import yaml
from huggingface_hub import ModelCard, constants
from test_inference import write_exp, write_sharp_llm

from espnet2_bloomzmms.bin.upload import main as upload_main
from espnet2_bloomzmms.hub import HubDownloadError, base_model_revision, download_model, model_card, upload_model
from espnet2_bloomzmms.inference import BloomzMMS
from espnet2_bloomzmms.model_archive import ArchiveError, pack_model


class LocalHub:
    """An in-memory model hub: create repo, validate card, preupload, commit, repo info, tree, resolve."""

    def __init__(self):
        self.repos = {}  # repo_id -> {"files": {path: bytes}, "sha": str}
        self.requests = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send(self, code, body=b"", headers=None, ctype="application/json"):
                body = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def handle_any(self):
                path = unquote(urlparse(self.path).path)
                hub.requests.append((self.command, path))
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                code, payload, headers, ctype = hub.answer(self.command, path, body)
                self.send(code, payload, headers, ctype)

            do_GET = do_HEAD = do_POST = handle_any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def answer(self, method, path, body):
        json_type = "application/json"
        not_found = (404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}, json_type)
        if method == "POST" and path == "/api/repos/create":
            p = json.loads(body)
            repo_id = f"{p['organization']}/{p['name']}" if p.get("organization") else p["name"]
            if repo_id in self.repos:
                return 409, {"error": "You already created this model repo", "url": f"{self.url}/{repo_id}"}, {}, json_type
            self.repos[repo_id] = {"files": {}, "sha": "0" * 40}
            return 200, {"url": f"{self.url}/{repo_id}"}, {}, json_type
        if method == "POST" and path == "/api/validate-yaml":  # the card's metadata block must parse
            content = json.loads(body)["content"]
            try:
                assert content.startswith("---\n")
                assert isinstance(yaml.safe_load(content.split("\n---\n", 1)[0][4:]), dict)
            except (AssertionError, yaml.YAMLError) as e:
                return 400, {"errors": [{"message": f"invalid metadata: {e}"}]}, {}, json_type
            return 200, {"warnings": []}, {}, json_type
        if path.startswith("/api/models/"):
            rest = path[len("/api/models/"):]
            for action in ("preupload", "commit", "revision", "tree"):
                if f"/{action}/" in rest:
                    repo_id = rest.split(f"/{action}/")[0]
                    break
            else:
                return 404, {"error": f"unhandled {path}"}, {}, json_type
            repo = self.repos.get(repo_id)
            if repo is None:
                return not_found
            if action == "preupload":
                files = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                         for f in json.loads(body)["files"]]
                return 200, {"files": files}, {}, json_type
            if action == "commit":
                for line in body.decode().splitlines():
                    item = json.loads(line)
                    if item["key"] == "file":
                        repo["files"][item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                    elif item["key"] != "header":
                        return 400, {"error": f"LocalHub cannot {item['key']}"}, {}, json_type
                repo["sha"] = hashlib.sha1(repr(sorted(repo["files"].items())).encode()).hexdigest()
                return 200, {"commitUrl": f"{self.url}/{repo_id}/commit/{repo['sha']}",
                             "commitOid": repo["sha"], "pullRequestUrl": None}, {}, json_type
            if action == "revision":
                siblings = [{"rfilename": f} for f in sorted(repo["files"])]
                return 200, {"id": repo_id, "sha": repo["sha"], "siblings": siblings, "private": False}, {}, json_type
            entries = [{"type": "file", "path": f, "size": len(d), "oid": hashlib.sha1(d).hexdigest()}
                       for f, d in sorted(repo["files"].items())]
            return 200, entries, {}, json_type
        if "/resolve/" in path:
            repo_id, rest = path.lstrip("/").split("/resolve/", 1)
            filename = rest.split("/", 1)[1]
            repo = self.repos.get(repo_id)
            if repo is None:
                return not_found
            if filename not in repo["files"]:
                return 404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"}, json_type
            data = repo["files"][filename]
            headers = {"X-Repo-Commit": repo["sha"], "ETag": f'"{hashlib.sha1(data).hexdigest()}"'}
            return 200, data, headers, "application/octet-stream"
        return 404, {"error": f"unhandled {path}"}, {}, json_type


@pytest.fixture(scope="module")
def local_hub():
    hub = LocalHub()
    yield hub
    hub.close()


@pytest.fixture
def online(monkeypatch):
    """conftest puts huggingface_hub offline; these tests talk to the local stand-in only."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


@pytest.fixture(scope="module")
def exp_dir(tiny_mms_dir, tiny_llm_dir, tmp_path_factory):
    """A tiny trained-looking experiment whose frozen LLM carries LoRA adapters."""
    root = tmp_path_factory.mktemp("hub_exp")
    llm = write_sharp_llm(tiny_llm_dir, root / "llm")
    exp = write_exp(tiny_mms_dir, llm, root / "exp",
                    decoder_conf={"model_name_or_path": str(llm), "lora": {"r": 4, "alpha": 8}},
                    preprocessor_conf={"default_prefix": "Transcribe: ", "default_postfix": " -> "})
    (exp / "RESULTS.md").write_text("| test set | CER |\n|---|---|\n| mini_test | 12.3 |\n", encoding="utf-8")
    return exp


@pytest.fixture(scope="module")
def waves():
    rng = torch.Generator().manual_seed(0)
    return [torch.randn(n, generator=rng).numpy() * 0.1 for n in (16000, 9000, 23000)]


def test_upload_then_download_by_name_decodes_the_same(local_hub, online, exp_dir, tmp_path, waves):
    url = upload_model(exp_dir, "me/bloomzmms-mini", results=str(exp_dir / "RESULTS.md"), endpoint=local_hub.url)
    assert url.startswith(f"{local_hub.url}/me/bloomzmms-mini/commit/")
    files = local_hub.repos["me/bloomzmms-mini"]["files"]
    assert {"meta.yaml", "config.yaml", "model.pth", "RESULTS.md", "README.md"} <= set(files)
    assert any(f.startswith("base_models/decoder/tokenizer") for f in files)  # local base LLM + tokenizer
    config = yaml.safe_load(files["config.yaml"])
    assert config["decoder_conf"]["model_name_or_path"] == "base_models/decoder"  # relative in the repo
    state = torch.load(io.BytesIO(files["model.pth"]), weights_only=True)
    assert any("lora_A" in k for k in state)
    assert not any(k.startswith("decoder.llm.") and "lora_" not in k for k in state)  # frozen base left out
    card = files["README.md"].decode()
    assert "| mini_test | 12.3 |" in card and "Transcribe: " in card and 'from_pretrained("me/bloomzmms-mini"' in card

    local = BloomzMMS.from_pretrained(exp_dir, max_new_tokens=6)
    cache = tmp_path / "hf_cache"
    shared = BloomzMMS.from_pretrained("me/bloomzmms-mini", endpoint=local_hub.url, cache_dir=cache, max_new_tokens=6)
    assert shared.generate_ids(shared.encode(waves)) == local.generate_ids(local.encode(waves))
    assert shared.batch(waves, "Say: ", ". ") == local.batch(waves, "Say: ", ". ")
    assert shared.ctc_greedy(waves) == local.ctc_greedy(waves)
    snapshots = list((cache / "models--me--bloomzmms-mini" / "snapshots").iterdir())
    assert len(snapshots) == 1 and (snapshots[0] / "config.yaml").read_bytes() == files["config.yaml"]  # cache untouched


def test_upload_cli_reuses_the_repo_and_takes_a_packed_zip(local_hub, online, exp_dir, tmp_path, capsys):
    packed = pack_model(exp_dir, tmp_path / "model.zip", str(exp_dir / "RESULTS.md"))
    cmd = ["--model", str(packed), "--repo_id", "me/cli-model", "--endpoint", local_hub.url, "--license", "apache-2.0"]
    upload_main(cmd)
    first = local_hub.repos["me/cli-model"]["sha"]
    upload_main(cmd + ["--commit_message", "again"])  # the existing repo is reused
    assert capsys.readouterr().out.strip().endswith(local_hub.repos["me/cli-model"]["sha"])
    assert first == local_hub.repos["me/cli-model"]["sha"]  # same files, same content
    card = ModelCard(local_hub.repos["me/cli-model"]["files"]["README.md"].decode())
    assert card.data.license == "apache-2.0" and card.data.library_name == "espnet"
    with zipfile.ZipFile(packed) as zf:
        assert set(zf.namelist()) | {"README.md"} == set(local_hub.repos["me/cli-model"]["files"])


def test_download_errors_are_clear(local_hub, online, exp_dir, tmp_path):
    with pytest.raises(HubDownloadError, match="no/such-model: could not download"):
        download_model("no/such-model", endpoint=local_hub.url, cache_dir=tmp_path)
    local_hub.repos["me/not-bloomzmms"] = {"files": {"config.json": b"{}"}, "sha": "1" * 40}
    with pytest.raises(ArchiveError, match="not a BLOOMZMMS model archive"):
        BloomzMMS.from_pretrained("me/not-bloomzmms", endpoint=local_hub.url, cache_dir=tmp_path)
    future = dict(local_hub.repos["me/bloomzmms-mini"]["files"])
    future["meta.yaml"] = future["meta.yaml"].replace(b"format: 1", b"format: 2")
    local_hub.repos["me/future"] = {"files": future, "sha": "2" * 40}
    with pytest.raises(ArchiveError, match="format 2"):
        BloomzMMS.from_pretrained("me/future", endpoint=local_hub.url, cache_dir=tmp_path)


def test_offline_name_that_is_no_path_says_both(tmp_path):
    # conftest keeps huggingface_hub offline: a mistyped experiment dir must not look like a hub bug
    with pytest.raises(HubDownloadError, match="exp/ce_TMX: neither a local experiment directory nor a .zip"):
        BloomzMMS.from_pretrained("exp/ce_TMX", cache_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="neither an experiment directory"):
        BloomzMMS.from_pretrained(tmp_path / "a" / "b")


def test_card_names_hub_base_models_with_their_cached_revision(tmp_path, monkeypatch):
    sha = "a" * 40
    cached = tmp_path / "cache" / "models--bigscience--bloomz-7b1"
    (cached / "refs").mkdir(parents=True)
    (cached / "refs" / "main").write_text(sha)
    (cached / "snapshots" / sha).mkdir(parents=True)
    (cached / "snapshots" / sha / "config.json").write_text("{}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    assert base_model_revision("bigscience/bloomz-7b1") == sha
    assert base_model_revision("facebook/mms-1b-all") is None
    assert base_model_revision(str(tmp_path)) is None

    root = tmp_path / "packed"
    root.mkdir()
    (root / "meta.yaml").write_text(yaml.safe_dump({"format": 1, "espnet2_bloomzmms": "0.1.0", "torch": "2.x",
                                                    "checkpoint": "valid.acc.ave.pth"}))
    (root / "config.yaml").write_text(yaml.safe_dump({
        "frontend_conf": {"model_name_or_path": "facebook/mms-1b-all"},
        "decoder_conf": {"model_name_or_path": "bigscience/bloomz-7b1", "lora": {"r": 8, "alpha": 16}},
        "lang_list": ["en", "de"],
    }, sort_keys=False))
    card = ModelCard(model_card(root, "me/m"))
    assert card.data.base_model == ["facebook/mms-1b-all", "bigscience/bloomz-7b1"]
    assert card.data.language == ["en", "de"]
    assert f"| LLM (decoder) | `bigscience/bloomz-7b1` | `{sha}` | yes |" in card.text
    assert "| speech encoder (frontend) | `facebook/mms-1b-all` | unknown | yes |" in card.text
    assert "LoRA adapters on the LLM (r=8, alpha=16)" in card.text
    assert "prefix = 'Repeat the sentence: '" in card.text  # the preprocessor's default
    assert "No results were packed" in card.text
