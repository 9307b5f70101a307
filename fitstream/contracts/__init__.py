"""Contracts: Avro schemas, schema ids and the Confluent wire format."""

from fitstream.contracts.registry import RegisteredSchema, SchemaRegistry, registry_from_settings
from fitstream.contracts.serde import AvroSerde, SerdeError

__all__ = ["AvroSerde", "RegisteredSchema", "SchemaRegistry", "SerdeError", "registry_from_settings"]
