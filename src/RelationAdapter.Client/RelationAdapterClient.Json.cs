using System.Text.Json;
using System.Text.Json.Serialization;

namespace RelationAdapter.Client;

public partial class RelationAdapterClient
{
    // NSwag puts a string converter on each enum property but not on lists of enums (a webhook's events_filter): one for
    // every enum, which reads and writes the names the members carry ([JsonStringEnumMemberName]).
    static partial void UpdateJsonSerializerSettings(JsonSerializerOptions settings) => settings.Converters.Add(new JsonStringEnumConverter());
}
