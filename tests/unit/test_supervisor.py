"""TF_CONFIG for multi-worker jobs: what each worker is told, and what it reads back."""

import json

import pytest

from services.trainer.supervisor import Task, loopback_hosts, task_from_environment, tf_config


def test_tf_config_lists_every_worker_and_names_this_one():
    hosts = ["job-0.svc:2222", "job-1.svc:2222", "job-2.svc:2222"]
    config = json.loads(tf_config(hosts, 2))
    assert config == {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": 2}}


@pytest.mark.parametrize("index", [-1, 2])
def test_tf_config_refuses_an_index_outside_the_cluster(index):
    with pytest.raises(ValueError, match="outside a cluster of 2"):
        tf_config(["a:1", "b:1"], index)


def test_the_task_read_back_from_the_environment_is_the_one_written(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", tf_config(["a:1", "b:1", "c:1"], 1))
    task = task_from_environment()
    assert task == Task(index=1, workers=3)
    assert not task.chief
    monkeypatch.setenv("TF_CONFIG", tf_config(["a:1", "b:1", "c:1"], 0))
    assert task_from_environment().chief


def test_no_tf_config_means_a_single_worker_job(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert task_from_environment() is None


def test_loopback_hosts_are_distinct_free_ports():
    hosts = loopback_hosts(8)
    assert len(set(hosts)) == 8
    assert all(h.startswith("127.0.0.1:") and int(h.split(":")[1]) > 0 for h in hosts)
