"""The names of the feature cache's arrays: a leaf module, read by the features and by the models that use them.

The cache holds two kinds of item, photos and texts, in a folder each. Each kind's arrays come in two groups: the
vectors every model reads (small: pooled vectors and colour statistics, about 17 KB a product with the offline towers),
and the tokens only models that attend over them read (region tokens of the photo, token states of the text:
about 167 KB a product). A shard holds one or both groups; the tokens are computed only when a model that reads them asks."""

VIEWS = {"whole": "", "product": "product_"}  # each photo as shot and its product cut out (`images.product_view`): view -> prefix of its arrays
VIEW_ARRAYS = ("pooled", "colour", "palette", "detail")  # what is kept of each view; detail only from backbones that give it
PHOTO_KIND = "photo-v5"  # bump when the photo arrays change, so old caches are recomputed, never misread
TEXT_KIND = "text"
VECTORS, TOKENS = "vectors", "tokens"
GROUPS = {  # kind -> group -> its arrays; the first array of a group is in every shard that holds the group
    PHOTO_KIND: {VECTORS: tuple(prefix + name for prefix in VIEWS.values() for name in VIEW_ARRAYS), TOKENS: ("regions",)},
    TEXT_KIND: {VECTORS: ("pooled",), TOKENS: ("tokens", "mask", "ids")},  # ids only from backbones that give them
}
