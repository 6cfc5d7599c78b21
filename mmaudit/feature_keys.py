"""The names of the feature cache's arrays: a leaf module, read by the features and by the models that use them."""

VIEWS = {"whole": "", "product": "product_"}  # each photo as shot and its product cut out (`images.product_view`): view -> prefix of its arrays
VIEW_ARRAYS = ("pooled", "colour", "palette", "detail")  # what is kept of each view; detail only from backbones that give it
PHOTO_ARRAYS = ("regions", *(prefix + name for prefix in VIEWS.values() for name in VIEW_ARRAYS))
PHOTO_KIND = "photo-v5"  # bump when the photo arrays change, so old caches are recomputed, never misread
TEXT_ARRAYS = ("pooled", "tokens", "mask", "ids")  # ids only from backbones that give them
