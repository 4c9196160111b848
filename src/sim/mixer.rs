//! `MIXER` transforms: the per-layer state the model owns, with the server's defaults. The `MIXER`
//! command that changes it is executed by [`super::exec_mixer`].

/// A layer's image/audio transform, with the server's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct MixerState {
    pub keyer: bool,
    pub invert: bool,
    /// enable, target_hue, hue_width, min_saturation, min_brightness, softness, spill_suppress,
    /// spill_suppress_saturation, show_mask.
    pub chroma: [f64; 9],
    pub blend: String,
    pub opacity: f64,
    pub brightness: f64,
    pub saturation: f64,
    pub contrast: f64,
    /// min_input, max_input, gamma, min_output, max_output.
    pub levels: [f64; 5],
    pub fill: [f64; 4],
    pub clip: [f64; 4],
    pub anchor: [f64; 2],
    pub crop: [f64; 4],
    /// Degrees.
    pub rotation: f64,
    pub perspective: [f64; 8],
    pub volume: f64,
}

impl Default for MixerState {
    fn default() -> Self {
        MixerState {
            keyer: false,
            invert: false,
            chroma: [0.0; 9],
            blend: "normal".into(),
            opacity: 1.0,
            brightness: 1.0,
            saturation: 1.0,
            contrast: 1.0,
            levels: [0.0, 1.0, 1.0, 0.0, 1.0],
            fill: [0.0, 0.0, 1.0, 1.0],
            clip: [0.0, 0.0, 1.0, 1.0],
            anchor: [0.0, 0.0],
            crop: [0.0, 0.0, 1.0, 1.0],
            rotation: 0.0,
            perspective: [0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0],
            volume: 1.0,
        }
    }
}
