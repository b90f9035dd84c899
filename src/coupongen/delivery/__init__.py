"""Getting coupons to people: channels, messages, images, file layouts, atomic publication."""
