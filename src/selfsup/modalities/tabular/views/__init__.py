"""Table views: SCARF corruption, VIME mask-and-impute, swap noise, Gaussian noise, SubTab subsets."""
