"""The console's forms that cannot mislead, in a real browser against the live stack: a job or a
promotion whose inputs differ from production's is flagged first; an identical file uploaded again
is said to be so; a failed job is retried with one click; and the Predict page offers example rows
from the model's own dataset, names the classes on the scores and reads the label column as the
truth to set the predictions against."""

import json

import pytest

from maas.client import MaasClient
from maas.demo import write_digits
from maas.registry.v1 import registry_pb2 as rpb
from tests.e2e.conftest import failed_data_job, tenant_with_digits
from tests.e2e.test_console import new_tenant, shot, signed_in_context

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
WINE = "alcohol,acid,ash,label\n" + "".join(f"{12 + i % 3},{i % 5}.5,{i % 2}.1,{i % 3}\n" for i in range(30))


def _tab(browser, stack, key, viewport=(1280, 800), scheme="light"):
    context = signed_in_context(browser, stack, key, viewport, scheme)
    page = context.new_page()
    page.set_default_timeout(30_000)
    return context, page


def test_a_job_or_a_promotion_with_other_inputs_than_production_is_flagged(browser, stack, journey, tmp_path):
    key = tenant_with_digits(stack, journey, "browser-signatures", "browser-signatures")
    train_csv, _ = write_digits(tmp_path)
    with MaasClient(stack.address("gateway"), key) as client:
        client.upload_dataset("wine", WINE.encode())
        client.upload_dataset("digits", train_csv.read_bytes())
        production = client.get_model_version("models/digits/versions/1")
        # Version 2: the same artifact said to take 3 numbers a row; version 3: production's signature.
        narrow = rpb.ModelVersion(artifact=production.artifact, signature=production.signature)
        narrow.signature.inputs[0].shape[:] = [-1, 3]
        for version in (narrow, rpb.ModelVersion(artifact=production.artifact, signature=production.signature)):
            client.registry.CreateModelVersion(
                rpb.CreateModelVersionRequest(parent="models/digits", model_version=version), **client.call_options()
            )
    context, page = _tab(browser, stack, key)
    page.goto("/#/train")
    page.locator("#dataset option >> nth=2").wait_for(state="attached")
    page.select_option("#dataset", "datasets/wine/versions/1")
    assert page.input_value("#model") == "wine"  # no such model: nothing to differ from
    assert page.locator("#signature-warning").count() == 0
    page.fill("#model", "digits")
    warning = page.locator("#signature-warning")
    warning.wait_for()
    assert "rows of 64 numbers" in warning.inner_text() and "rows of 3 numbers" in warning.inner_text()
    shot(page, "50-train-signature-warning")
    page.select_option("#dataset", "datasets/digits/versions/1")
    warning.wait_for(state="detached")  # the digits' 64 pixels: what production takes
    page.uncheck("label:has-text('pixel_0') input")
    warning.wait_for()
    assert "rows of 63 numbers" in warning.inner_text()

    page.goto("/#/models/digits")
    page.click("button[data-version='2']")
    confirm = page.locator(".confirm[role=alertdialog]")
    assert "production moves from version 1 to version 2" in confirm.inner_text()
    assert "Its inputs differ from the current production version's" in confirm.inner_text()
    shot(page, "51-promote-signature-warning")
    page.click(".confirm button.secondary")  # keep version 1
    page.click("button[data-version='3']")
    assert "production moves from version 1 to version 3" in confirm.inner_text()
    assert "Its inputs differ" not in confirm.inner_text()
    context.close()


def test_an_identical_file_uploaded_again_makes_no_new_version(browser, stack, tmp_path):
    key = new_tenant(stack, "browser-same-file")
    (tmp_path / "wine.csv").write_text(WINE)
    context, page = _tab(browser, stack, key)
    page.goto("/#/datasets")
    for _ in range(2):
        page.set_input_files("#file", str(tmp_path / "wine.csv"))
        assert page.input_value("#dataset-id") == "wine"
        page.click("button[type=submit]")
        page.locator("#uploaded").wait_for()
        page.locator("button[type=submit]:not([disabled])").wait_for()
    unchanged = page.locator("#unchanged")
    assert "already datasets/wine/versions/1 (same sha256)" in unchanged.inner_text()
    shot(page, "52-upload-unchanged")
    with MaasClient(stack.address("gateway"), key) as client:
        assert [d.name for d in client.list_datasets()] == ["datasets/wine/versions/1"]
    # Another file under the same id is a new version.
    changed = (WINE + "13,1.5,0.1,2\n").encode()
    page.set_input_files("#file", {"name": "wine.csv", "mimeType": "text/csv", "buffer": changed})
    assert page.input_value("#dataset-id") == "wine"
    page.click("button[type=submit]")
    page.locator("#uploaded .ok", has_text="datasets/wine/versions/2").wait_for()
    context.close()


def test_a_failed_job_is_retried_with_its_spec(browser, stack):
    key = new_tenant(stack, "browser-retry")
    with MaasClient(stack.address("gateway"), key) as client:
        job = failed_data_job(client, learning_rate=0.02)
    first = job.name.split("/")[-1]
    context, page = _tab(browser, stack, key)
    page.goto(f"/#/jobs/{first}")
    page.locator("#job-state", has_text="FAILED").wait_for()
    retry = page.locator(f"button[data-retry='{first}']")
    assert retry.inner_text() == "Retry"
    retry.click()
    page.wait_for_function("first => !location.hash.endsWith(first)", arg=first)
    second = page.url.rsplit("/", 1)[-1]
    # The new job's page, nothing of the old one's shown meanwhile: its id, then its own end.
    page.locator("h1 code", has_text=second).wait_for()
    with MaasClient(stack.address("gateway"), key) as client:
        for _ in client.watch_training_job(f"trainingJobs/{second}", timeout=300):
            pass
        old, new = client.get_training_job(job.name), client.get_training_job(f"trainingJobs/{second}")
    page.locator("#job-state", has_text="FAILED").wait_for()
    assert new.spec == old.spec and new.failure_kind == "data", new
    page.goto(f"/#/jobs/{first}")
    page.locator(f"button[data-retry='{first}']").wait_for()
    context.close()


def test_predict_offers_example_rows_names_the_classes_and_reads_the_label(browser, stack, journey):
    context, page = _tab(browser, stack, journey.api_key)
    page.goto("/#/predict")
    page.select_option("#predict-model", "digits")
    examples = page.locator("#examples")
    examples.wait_for()
    assert "datasets/digits/versions/1" in examples.inner_text()
    examples.click()
    page.wait_for_function("() => document.querySelector('#rows').value.split('\\n').length === 6")
    rows = page.input_value("#rows").splitlines()
    header, labels = rows[0].split(","), [r.split(",")[rows[0].split(",").index("label")] for r in rows[1:]]
    assert "label" in header and len(header) == 65, header
    page.click("button[type=submit]")
    table = page.locator("#predictions")
    table.wait_for()
    assert [t.strip() for t in table.locator("tbody tr td:nth-child(2)").all_inner_texts()] == labels
    agreement = page.inner_text("#agreement")
    assert agreement.endswith("the true label read from label.") and " of 5 predicted as labelled" in agreement
    right = int(agreement.split(" of ")[0])
    assert right >= 4, agreement  # a model of 90 % or better on rows it was trained on
    assert table.locator(".bad").count() == 5 - right
    shot(page, "53-predict-examples")

    # A classifier that names its classes: the scores and the labels (class indices) in its words.
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

    def named(route):
        answer = route.fetch()
        body = answer.json()
        body["classificationReport"] = {"classNames": names}
        route.fulfill(response=answer, body=json.dumps(body))

    page.route("**/v1/models/digits/versions/production", named)
    page.select_option("#predict-model", "")
    page.select_option("#predict-model", "digits")
    page.locator("label[for=rows] code", has_text="label").wait_for()
    page.click("button[type=submit]")
    table.locator("tbody tr").first.wait_for()
    page.wait_for_function("() => document.querySelector('#predictions td:nth-child(2)')?.innerText.match(/[a-z]/)")
    truth = [t.strip() for t in table.locator("tbody tr td:nth-child(2)").all_inner_texts()]
    assert truth == [names[int(label)] for label in labels], truth
    scores = table.locator("tbody tr td:nth-child(4)").first.inner_text()
    assert scores.split(" ")[0] in names and scores.count(" · ") == 2, scores
    assert page.inner_text("#agreement") == agreement
    shot(page, "54-predict-class-names")
    context.close()
