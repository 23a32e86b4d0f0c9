import Backbones
import Evaluation
import Foundation
import PlanetData

/// A model's `augmentation:`: `none`, `default` (`Augmentation.planetDefault`), or a mapping of
/// symmetries, crop, translate, brightness, contrast and gamma, each defaulting to nothing random.
/// (Encoded as `Augmentation` itself: the mapping with every key.)
struct AugmentationSetting: Decodable, ValidatedSettings {
    var value: Augmentation

    enum CodingKeys: String, SettingKeys { case symmetries, crop, translate, brightness, contrast, gamma }

    init(from decoder: any Decoder) throws {
        if let word = try? decoder.singleValueContainer().decode(String.self) {
            switch word {
            case "none": value = .none
            case "default": value = .planetDefault
            default:
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription:
                    "expected none, default, or a mapping of \(CodingKeys.names.joined(separator: ", "))"))
            }
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        value = .none
        value.symmetries = try c.setting(.symmetries) ?? value.symmetries
        value.crop = try c.decodeIfPresent(CropSetting.self, forKey: .crop)?.value
        value.translate = try c.setting(.translate) ?? value.translate
        value.brightness = try c.setting(.brightness) ?? value.brightness
        value.contrast = try c.setting(.contrast) ?? value.contrast
        value.gamma = try c.setting(.gamma) ?? value.gamma
    }

    func validate() throws(SettingError) {
        try SettingError.check(value.translate, in: 0...256, "translate")
        try SettingError.check(value.brightness, in: 0...1, "brightness")
        try SettingError.check(value.contrast, in: 0...1, "contrast")
        try SettingError.check(value.gamma, in: 0...1, "gamma")
    }

    /// `crop: {scale: [low, high], ratio: [low, high]}`.
    struct CropSetting: Decodable, ValidatedSettings {
        var scale: [Float]
        var ratio: [Float]

        enum CodingKeys: String, SettingKeys { case scale, ratio }

        var value: Augmentation.RandomResizedCrop {
            Augmentation.RandomResizedCrop(scale: scale[0]...scale[1], ratio: ratio[0]...ratio[1])
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let defaults = Augmentation.RandomResizedCrop()
            scale = try c.setting(.scale) ?? [defaults.scale.lowerBound, defaults.scale.upperBound]
            ratio = try c.setting(.ratio) ?? [defaults.ratio.lowerBound, defaults.ratio.upperBound]
            for (key, pair) in [(CodingKeys.scale, scale), (.ratio, ratio)] where pair.count != 2 {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "expected [low, high]")
            }
        }

        func validate() throws(SettingError) {
            for (key, pair, bounds) in [("scale", scale, Float(0.01)...1), ("ratio", ratio, 0.1...10)] {
                try SettingError.check(pair[0], in: bounds, key, "0")
                try SettingError.check(pair[1], in: bounds, key, "1")
                guard pair[0] <= pair[1] else { throw SettingError([key], "low \(pair[0]) is above high \(pair[1])") }
            }
        }
    }
}
