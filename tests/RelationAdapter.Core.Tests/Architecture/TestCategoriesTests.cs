using System.Reflection;

namespace RelationAdapter.Core.Tests.Architecture;

/// <summary>
/// Every test class carries exactly one <c>[Trait("Category", …)]</c>, one of <see cref="Known"/> (the README's Tests
/// section lists them), and its tests add none: a filter such as <c>Category!=Gpu</c> then selects whole classes and
/// no test escapes every filter. Compiled into every test project, each checking its own assembly.
/// </summary>
[Trait("Category", "Unit")]
public class TestCategoriesTests
{
    public static readonly string[] Known = ["Unit", "Golden", "Encoders", "Gpu", "Service", "Redis", "Fuzz", "Browser", "Deploy", "TypeScript", "Eval", "Training"];

    [Fact]
    public void Every_test_class_has_exactly_one_known_category()
    {
        var problems = Problems(typeof(TestCategoriesTests).Assembly).ToList();
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    static IEnumerable<string> Problems(Assembly tests)
    {
        foreach (var type in tests.GetTypes().Where(type => type is { IsClass: true, IsAbstract: false } && type.GetMethods().Any(IsTest)).OrderBy(type => type.FullName))
        {
            var categories = Categories(type).ToList();
            if (categories.Count != 1) yield return $"{type.FullName} has {categories.Count} categories ({string.Join(", ", categories)}); give it exactly one.";
            foreach (var unknown in categories.Except(Known)) yield return $"{type.FullName}: '{unknown}' is not one of {string.Join(", ", Known)}.";
            foreach (var method in type.GetMethods().Where(method => Categories(method).Any()))
                yield return $"{type.FullName}.{method.Name} sets a category of its own; the class's is the only one.";
        }
    }

    static bool IsTest(MethodInfo method) => method.GetCustomAttributes<FactAttribute>(inherit: true).Any();

    /// <summary>The Category traits declared on a class (and its base classes) or a method.</summary>
    static IEnumerable<string> Categories(MemberInfo member)
    {
        for (var current = member; current is not null; current = (current as Type)?.BaseType)
            foreach (var trait in current.GetCustomAttributesData().Where(data => data.AttributeType == typeof(TraitAttribute)))
                if ((string?)trait.ConstructorArguments[0].Value == "Category")
                    yield return (string)trait.ConstructorArguments[1].Value!;
    }
}
