//! The dimensions facts reference by natural key, before their rows may have arrived (inferred
//! members, Kimball's late-arriving dimension rows).

use std::collections::BTreeSet;

/// A dimension with inferred members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dim {
    Store,
    Customer,
    Employee,
    Product,
}

impl Dim {
    /// Every dimension with inferred members.
    pub(crate) const ALL: [Dim; 4] = [Dim::Store, Dim::Customer, Dim::Employee, Dim::Product];

    /// The `dim` label of the warehouse metrics.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Dim::Store => "store",
            Dim::Customer => "customer",
            Dim::Employee => "employee",
            Dim::Product => "product",
        }
    }
}

/// One value per [`Dim`].
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PerDim<T> {
    pub store: T,
    pub customer: T,
    pub employee: T,
    pub product: T,
}

impl<T> PerDim<T> {
    /// Each dimension with its value.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Dim, &T)> {
        Dim::ALL.into_iter().map(|dim| (dim, self.get(dim)))
    }

    /// The value of `dim`.
    pub(crate) fn get(&self, dim: Dim) -> &T {
        match dim {
            Dim::Store => &self.store,
            Dim::Customer => &self.customer,
            Dim::Employee => &self.employee,
            Dim::Product => &self.product,
        }
    }

    /// The value of `dim`, to change.
    pub(crate) fn get_mut(&mut self, dim: Dim) -> &mut T {
        match dim {
            Dim::Store => &mut self.store,
            Dim::Customer => &mut self.customer,
            Dim::Employee => &mut self.employee,
            Dim::Product => &mut self.product,
        }
    }
}

/// Natural keys of each dimension.
pub(crate) type DimKeys = PerDim<BTreeSet<i32>>;

impl DimKeys {
    /// The keys of `self` that `written` does not have.
    pub(crate) fn without(mut self, written: &DimKeys) -> DimKeys {
        for dim in Dim::ALL {
            let done = written.get(dim);
            self.get_mut(dim).retain(|k| !done.contains(k));
        }
        self
    }
}
