"""Where alerts go besides the Redis stream: MQTT with Home Assistant discovery, webhooks, notifications through
Apprise. Each configured output is one consumer group of `<prefix>:alerts`, read on a thread of its own and
acknowledged only after delivery, so a slow or dead receiver never slows a camera and never loses an alert
(docs/integrations.md)."""
