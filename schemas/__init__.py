"""The contract: record types, their Avro schemas, the wire codec and the topic registry.

Imports nothing else of Arbees; everything else imports it.
"""
