-- Alerts' consumer positions, written in each batch's transaction with the scores, judgements,
-- transitions, notifications and outbox rows the batch makes (Kafka's "storing offsets outside Kafka"):
-- where a partition's next batch starts is what the database holds, so a crash between the transaction
-- and Kafka's commit cannot apply a batch twice. As scoring's (scoring's 0010): `epoch` is bumped by every
-- claim (a consumer assigned the partition); a batch's transaction writes its position only while the
-- epoch is still its consumer's, so an older owner's batch is refused whole. `next_offset` is null until
-- the first batch after a claim: Kafka's committed offset stands until then. `cluster` is the Kafka
-- cluster id of the last claim: a claim on another cluster forgets the stored offset.
CREATE TABLE {schema}.consumer_positions (
    consumer_group text        NOT NULL,
    topic          text        NOT NULL,
    partition      integer     NOT NULL,
    epoch          bigint      NOT NULL,
    next_offset    bigint,
    cluster        text        NOT NULL,
    claimed_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz,
    PRIMARY KEY (consumer_group, topic, partition)
);
