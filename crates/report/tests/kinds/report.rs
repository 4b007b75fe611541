//! The `report` kind (tests added with the kind).
