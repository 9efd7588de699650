//! The interface extraction drives. Two things implement it: `crate::trt` (real TensorRT, loaded at
//! run time) and, in tests only, the simulator under `tests/support/`. The pipeline never imports
//! `trt`.

use crate::dtype::DataType;

/// One refittable weight as the refitter names it (`getAllWeights` + `getWeightsPrototype`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WeightSpec {
    pub name: String,
    /// The dtype the refitter expects in `setNamedWeights` (not necessarily the stored dtype).
    pub dtype: DataType,
    /// Element count (`Weights::count`); packed types count elements, not bytes.
    pub count: u64,
}

impl WeightSpec {
    /// Bytes of a `Weights` buffer for this weight, in its refit dtype.
    pub fn refit_bytes(&self) -> u64 {
        self.dtype.bytes_for(self.count).unwrap_or(u64::MAX)
    }
}

/// Serialized plan bytes, owned by whoever made them (TensorRT's `IHostMemory`, or a `Vec`).
pub trait PlanBytes: Send {
    fn bytes(&self) -> &[u8];
}

impl PlanBytes for Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }
}

/// A deserialized engine with its refitter.
pub trait Instance {
    /// `ICudaEngine::serialize` of this instance.
    fn serialize(&mut self) -> anyhow::Result<Box<dyn PlanBytes>>;

    /// `ICudaEngine::serializeWithConfig` with `kEXCLUDE_WEIGHTS` cleared (and `kINCLUDE_REFIT`
    /// set where TensorRT has it, so the plan stays refittable): the plan holds the current
    /// refittable weights even for an engine built with `kSTRIP_PLAN`, whose plain
    /// [`Instance::serialize`] keeps excluding them after a refit. What `refit` writes. The default
    /// is `serialize`, for engines whose plain serialization always holds the weights.
    fn serialize_including_weights(&mut self) -> anyhow::Result<Box<dyn PlanBytes>> {
        self.serialize()
    }

    /// Sets every refittable weight (`values[i]` is weight `i` of [`Engine::weights`], as bytes in
    /// its refit dtype, packed types two per byte) and calls `refitCudaEngine`. The buffers only
    /// need to live for the call, which is why setting and refitting are one method: TensorRT keeps
    /// the pointers until the refit.
    fn refit(&mut self, values: &[&[u8]]) -> anyhow::Result<()>;

    /// Sets the weights given (`None`: left unset, keeping the engine's own values), asks
    /// TensorRT which weights it still needs (`getMissingWeights`) and, when none, refits:
    /// `Ok(vec![])` after a refit, else the indices of the weights still needed (no refit made;
    /// use a fresh instance for the next try). The default needs every weight.
    fn refit_some(&mut self, values: &[Option<&[u8]>]) -> anyhow::Result<Vec<usize>> {
        let missing: Vec<usize> = values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_none())
            .map(|(i, _)| i)
            .collect();
        if !missing.is_empty() {
            return Ok(missing);
        }
        let all: Vec<&[u8]> = values.iter().map(|v| v.unwrap_or(&[])).collect();
        self.refit(&all).map(|()| Vec::new())
    }
}

/// An engine file that can be deserialized any number of times.
pub trait Engine {
    /// Every refittable weight, in the refitter's order.
    fn weights(&self) -> &[WeightSpec];

    /// Deserializes a fresh instance of the engine file. Extraction uses one instance per
    /// serialization, so every refitted serialization it compares has seen exactly one refit.
    fn instance(&self) -> anyhow::Result<Box<dyn Instance + '_>>;

    /// Deserializes a fresh instance of a plan this engine serialized (a refitted one), so that it
    /// can be serialized again without a refit: how a refitted image is brought back to the layout
    /// of a never-refitted one when TensorRT's layout changes after a refit.
    fn instance_of(&self, plan: &[u8]) -> anyhow::Result<Box<dyn Instance + '_>>;
}
