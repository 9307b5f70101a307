"""The typed seams (issue 10): every view TypedDict mirrors its Avro contract field for
field, every subject constant is registered, and the output catalogue names a topic,
a contract and a key for every list the pipeline core returns."""

from __future__ import annotations

import dataclasses
import typing

from fitstream.contracts import subjects
from fitstream.contracts.registry import RepoSchemaRegistry
from fitstream.domain.pipeline import BoardResult, PipelineResult
from fitstream.domain.views import VIEW_TYPES
from fitstream.kafka.topics import BOARD_OUTPUTS, OUTPUTS
from fitstream.settings import KafkaSettings, SchemaRegistrySettings

REGISTRY = RepoSchemaRegistry(SchemaRegistrySettings().repo_registry_path)


def test_every_view_type_has_exactly_its_contracts_fields():
    for subject, view in VIEW_TYPES.items():
        fields = [f["name"] for f in REGISTRY.latest(subject).schema["fields"]]
        assert list(typing.get_type_hints(view)) == fields, subject
        optional = {f["name"] for f in REGISTRY.latest(subject).schema["fields"]
                    if "default" in f and f["name"] == "sealed_coordinates"}
        assert view.__optional_keys__ == optional, subject


def test_every_subject_constant_is_a_registered_contract():
    names = {value for name, value in vars(subjects).items() if name.isupper()}
    assert len(names) == 23  # 20 + the three predictions (issue 11)
    assert names <= set(REGISTRY.subjects())


def test_the_catalogue_covers_every_output_of_the_core_once():
    lists = {f.name for f in dataclasses.fields(PipelineResult)
             if typing.get_origin(typing.get_type_hints(PipelineResult)[f.name]) is list
             and f.name != "rejections"}
    assert [o.result_field for o in OUTPUTS] == sorted(lists, key=[
        o.result_field for o in OUTPUTS].index)
    assert set(lists) == {o.result_field for o in OUTPUTS}
    assert [o.result_field for o in BOARD_OUTPUTS] == [
        f.name for f in dataclasses.fields(BoardResult) if f.name != "snapshot"]
    kafka = KafkaSettings()
    for output in (*OUTPUTS, *BOARD_OUTPUTS):
        assert output.subject in VIEW_TYPES, output
        assert output.key_field in typing.get_type_hints(VIEW_TYPES[output.subject]), output
        assert output.topic(kafka).endswith(".v1"), output
