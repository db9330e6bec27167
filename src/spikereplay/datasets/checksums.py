"""SHA-256 of the decompressed idx files of the MNIST-like datasets. MNIST and Fashion-MNIST use
the same file names, so these tell a directory of one from a directory of the other."""

# SHA-256 of the *decompressed* idx files, as given in data/mnist/README.md.
# Checking the decompressed bytes lets any correct gzip of them pass.
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# SHA-256 of the decompressed idx files, as Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1
# ships them (the repository's files of 2020-05-23)
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}


# name (as data.dataset says it) -> its table
IDX_DATASETS = {"mnist": MNIST_SHA256, "fashion_mnist": FASHION_MNIST_SHA256}
