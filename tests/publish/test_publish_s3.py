"""Publishing to an S3-compatible object store: moto's standalone S3 server, started by the test on
127.0.0.1 (a real HTTP server that DVC's S3 plugin, dvc-s3, talks to as to any S3 endpoint; MinIO has
no package in the registries this project installs from). The remote's URL is committed, its endpoint
and credentials are set with `dvc remote modify --local` (never committed); a clone sets its own and
pulls every output byte for byte."""

import socket

import pytest
from moto.server import ThreadedMotoServer
from published import clone, commit, copy_of, dvc, olmospec, outputs

CREDS = {"access_key_id": "olmospec-test", "secret_access_key": "olmospec-test-secret"}


@pytest.fixture
def s3():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    import boto3

    client = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    client.create_bucket(Bucket="results")
    yield url, client
    server.stop()


def _local_remote(repo, url: str) -> None:
    dvc(repo, "remote", "modify", "--local", "store", "endpointurl", url)
    for key, value in CREDS.items():
        dvc(repo, "remote", "modify", "--local", "store", key, value)


@pytest.mark.slow
def test_publish_to_s3_and_pull_into_a_clone(ran, tmp_path, s3):
    url, client = s3
    a = copy_of(ran, tmp_path / "a")
    dvc(a, "remote", "add", "store", "s3://results/tiny")

    dvc(a, "remote", "modify", "store", "secret_access_key", "oops")  # a secret in the committed config
    r = olmospec(a, "publish", "--remote", "store", ok=False)
    assert r.returncode == 1 and ".dvc/config holds 'secret_access_key'" in r.stderr and "Traceback" not in r.stderr
    dvc(a, "remote", "modify", "--unset", "store", "secret_access_key")

    _local_remote(a, url)
    r = olmospec(a, "publish", "--remote", "store")
    assert "pushing 10 stage(s)" in r.stdout and "remote 'store' holds every output" in r.stdout, r.stdout
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="results", Prefix="tiny/")["Contents"]]
    assert len(keys) > 20 and all(k.startswith("tiny/files/md5/") for k in keys)
    commit(a)
    committed = (a / ".dvc" / "config").read_text()
    assert "s3://results/tiny" in committed and "secret" not in committed and "olmospec-test" not in committed

    b = clone(a, tmp_path / "b")
    assert not (b / ".dvc" / "config.local").exists()
    _local_remote(b, url)
    dvc(b, "pull")
    assert outputs(b) == outputs(a)
    assert "Data and pipelines are up to date." in dvc(b, "status").stdout
