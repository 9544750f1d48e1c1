"""Partners in Energie feed: AMQP 1.0 notifications, REST tickets and comments."""
