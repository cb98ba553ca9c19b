"""A single-node Apache Kafka broker (KRaft) run from the Maven Central jars.

`pom.xml` names the jars, `server.template.properties` and `log4j2.xml` configure
the broker, and `broker.py` resolves, formats, starts, waits for and stops it.
"""
