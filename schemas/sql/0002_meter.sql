-- 0002: dead letters belong to the consumer group that read them, like
-- offsets and counts: a second group reading the same topic (a replay, a
-- migration) keeps its own record instead of colliding with the first.
ALTER TABLE dead_letters ADD COLUMN consumer_group text NOT NULL DEFAULT '';
ALTER TABLE dead_letters
    DROP CONSTRAINT dead_letters_kafka_topic_kafka_partition_kafka_offset_batch_key;
ALTER TABLE dead_letters ADD CONSTRAINT dead_letters_source_key
    UNIQUE (consumer_group, kafka_topic, kafka_partition, kafka_offset,
            batch_index);

